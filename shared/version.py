"""The product version, sent by the agent in its User-Agent and snapshots."""

from importlib.metadata import PackageNotFoundError, version

try:
    PRODUCT_VERSION = version("optischema")
except PackageNotFoundError:  # running from a source tree that was never installed
    PRODUCT_VERSION = "0.0.0+source"
