"""podnet: Kubernetes cluster networking that runs for real on one Linux machine and explains itself."""

__version__ = "0.1.0"
