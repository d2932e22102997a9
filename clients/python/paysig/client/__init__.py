"""Python client of the paysig signing service.

    from paysig.client import Client, PaysigError
    from paysig.v1 import signer_pb2 as pb

    with Client("127.0.0.1:50051") as client:
        signed = client.sign_order(pb.SignOrderRequest(...))
"""

from .client import AsyncClient, Client
from .errors import FieldViolation, PaysigError
from .notification import Notification, parse_notification

__all__ = ["AsyncClient", "Client", "FieldViolation", "Notification", "PaysigError", "parse_notification"]
