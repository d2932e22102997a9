"""Python client of the paysig signing service.

    from paysig.client import CallInfo, Client, PaysigError
    from paysig.v1 import signer_pb2 as pb

    with Client("127.0.0.1:50051") as client:
        info = CallInfo()
        signed = client.sign_order(pb.SignOrderRequest(...), info=info)
        # info.request_id: the server's id of the call (PaysigError.request_id on failure)
"""

from .client import AsyncClient, Client
from .errors import CallInfo, FieldViolation, PaysigError
from .notification import Notification, parse_notification

__all__ = ["AsyncClient", "CallInfo", "Client", "FieldViolation", "Notification", "PaysigError", "parse_notification"]
