"""paysig server: WeChat virtual-payment signing over gRPC."""

from .config import Config, ConfigError, load_config
from .grpc_server import PaysigServer, create_server

__all__ = ["Config", "ConfigError", "PaysigServer", "create_server", "load_config"]
