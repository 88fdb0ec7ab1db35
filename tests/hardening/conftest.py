"""The hardening tests reuse the Kubernetes API server fixtures of tests/kubernetes."""

from tests.kubernetes.conftest import kube_server, kubeconfig  # noqa: F401 - fixtures, by name
