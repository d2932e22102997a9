"""Python client of the paysig signing service.

    from paysig.client import CallInfo, Client, PaysigError
    from paysig.v1 import signer_pb2 as pb

    with Client("127.0.0.1:50051") as client:
        info = CallInfo()
        signed = client.sign_order(pb.SignOrderRequest(...), info=info)
        # info.request_id: the server's id of the call (PaysigError.request_id on failure)

Payment pushes: paysig.client.notification (handle_notification,
wsgi_notification_app, asgi_notification_app).
"""

from .client import AsyncClient, Client
from .errors import CallInfo, FieldViolation, PaysigError
from .notification import (Reply, asgi_notification_app, handle_notification, handle_notification_async,
                           wsgi_notification_app)

__all__ = ["AsyncClient", "CallInfo", "Client", "FieldViolation", "PaysigError", "Reply", "asgi_notification_app",
           "handle_notification", "handle_notification_async", "wsgi_notification_app"]
