"""Cluster DNS, pure: a CoreDNS-compatible answer function, the pod resolv.conf, the glibc walk.

Modules (one concept each):

* ``corefile``   — the Corefile parser and the typed config of each supported plugin
* ``config``     — ``ServerConfig``: the blocks on one port, the server's IPs, the files named
* ``zone``       — ``ZoneIndex``: the kubernetes plugin's caches, built once from a ClusterState
* ``answer``     — ``answer()``: the response, or a Forward/Lookup/Transfer/Drop decision
* ``query``      — wire bytes → query, FORMERR/NOTIMP reply or drop (miekg/dns accept rules)
* ``xfr``        — the zone as an AXFR record list (also the ``dns zone`` listing)
* ``resolvconf`` — kubelet's pod resolv.conf
* ``stub``       — the glibc search walk as a state machine
* ``names``, ``records``, ``hostsfile`` — helpers
"""
