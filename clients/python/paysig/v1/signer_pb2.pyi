from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Env(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENV_UNSPECIFIED: _ClassVar[Env]
    ENV_PRODUCTION: _ClassVar[Env]
    ENV_SANDBOX: _ClassVar[Env]

class PaymentApi(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_API_UNSPECIFIED: _ClassVar[PaymentApi]
    PAYMENT_API_GAME_ITEM: _ClassVar[PaymentApi]
    PAYMENT_API_VIRTUAL_PAYMENT: _ClassVar[PaymentApi]

class VirtualPaymentMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIRTUAL_PAYMENT_MODE_UNSPECIFIED: _ClassVar[VirtualPaymentMode]
    VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS: _ClassVar[VirtualPaymentMode]
    VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN: _ClassVar[VirtualPaymentMode]

class SignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_SCHEME_UNSPECIFIED: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_PAY_SIG: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_USER_SIGNATURE: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_EVENT: _ClassVar[SignatureScheme]

class VerifyResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFY_RESULT_UNSPECIFIED: _ClassVar[VerifyResult]
    VERIFY_RESULT_VALID: _ClassVar[VerifyResult]
    VERIFY_RESULT_INVALID: _ClassVar[VerifyResult]

class NotificationResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_RESULT_UNSPECIFIED: _ClassVar[NotificationResult]
    NOTIFICATION_RESULT_ACCEPTED: _ClassVar[NotificationResult]
    NOTIFICATION_RESULT_URL_VERIFICATION: _ClassVar[NotificationResult]
    NOTIFICATION_RESULT_REJECTED: _ClassVar[NotificationResult]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_GOODS_DELIVER: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_COIN_DELIVER: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_REFUND: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_COMPLAINT: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_SUBSCRIPTION: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_OTHER: _ClassVar[NotificationKind]

class NotificationFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_FORMAT_UNSPECIFIED: _ClassVar[NotificationFormat]
    NOTIFICATION_FORMAT_JSON: _ClassVar[NotificationFormat]
    NOTIFICATION_FORMAT_XML: _ClassVar[NotificationFormat]
ENV_UNSPECIFIED: Env
ENV_PRODUCTION: Env
ENV_SANDBOX: Env
PAYMENT_API_UNSPECIFIED: PaymentApi
PAYMENT_API_GAME_ITEM: PaymentApi
PAYMENT_API_VIRTUAL_PAYMENT: PaymentApi
VIRTUAL_PAYMENT_MODE_UNSPECIFIED: VirtualPaymentMode
VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS: VirtualPaymentMode
VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN: VirtualPaymentMode
SIGNATURE_SCHEME_UNSPECIFIED: SignatureScheme
SIGNATURE_SCHEME_PAY_SIG: SignatureScheme
SIGNATURE_SCHEME_USER_SIGNATURE: SignatureScheme
SIGNATURE_SCHEME_EVENT: SignatureScheme
VERIFY_RESULT_UNSPECIFIED: VerifyResult
VERIFY_RESULT_VALID: VerifyResult
VERIFY_RESULT_INVALID: VerifyResult
NOTIFICATION_RESULT_UNSPECIFIED: NotificationResult
NOTIFICATION_RESULT_ACCEPTED: NotificationResult
NOTIFICATION_RESULT_URL_VERIFICATION: NotificationResult
NOTIFICATION_RESULT_REJECTED: NotificationResult
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_GOODS_DELIVER: NotificationKind
NOTIFICATION_KIND_COIN_DELIVER: NotificationKind
NOTIFICATION_KIND_REFUND: NotificationKind
NOTIFICATION_KIND_COMPLAINT: NotificationKind
NOTIFICATION_KIND_SUBSCRIPTION: NotificationKind
NOTIFICATION_KIND_OTHER: NotificationKind
NOTIFICATION_FORMAT_UNSPECIFIED: NotificationFormat
NOTIFICATION_FORMAT_JSON: NotificationFormat
NOTIFICATION_FORMAT_XML: NotificationFormat

class Order(_message.Message):
    __slots__ = ("product_id", "goods_price", "buy_quantity", "out_trade_no", "attach", "currency_type", "platform", "zone_id", "activity_selling_price")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    GOODS_PRICE_FIELD_NUMBER: _ClassVar[int]
    BUY_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    ATTACH_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_SELLING_PRICE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    goods_price: int
    buy_quantity: int
    out_trade_no: str
    attach: str
    currency_type: str
    platform: str
    zone_id: str
    activity_selling_price: int
    def __init__(self, product_id: _Optional[str] = ..., goods_price: _Optional[int] = ..., buy_quantity: _Optional[int] = ..., out_trade_no: _Optional[str] = ..., attach: _Optional[str] = ..., currency_type: _Optional[str] = ..., platform: _Optional[str] = ..., zone_id: _Optional[str] = ..., activity_selling_price: _Optional[int] = ...) -> None: ...

class SignOrderRequest(_message.Message):
    __slots__ = ("app_id", "env", "api", "mode", "order", "session_key")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    env: Env
    api: PaymentApi
    mode: VirtualPaymentMode
    order: Order
    session_key: str
    def __init__(self, app_id: _Optional[str] = ..., env: _Optional[_Union[Env, str]] = ..., api: _Optional[_Union[PaymentApi, str]] = ..., mode: _Optional[_Union[VirtualPaymentMode, str]] = ..., order: _Optional[_Union[Order, _Mapping]] = ..., session_key: _Optional[str] = ...) -> None: ...

class SignOrderResponse(_message.Message):
    __slots__ = ("sign_data", "pay_sig", "signature", "method", "key_version", "env", "client_args_json")
    SIGN_DATA_FIELD_NUMBER: _ClassVar[int]
    PAY_SIG_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    sign_data: str
    pay_sig: str
    signature: str
    method: str
    key_version: int
    env: Env
    client_args_json: str
    def __init__(self, sign_data: _Optional[str] = ..., pay_sig: _Optional[str] = ..., signature: _Optional[str] = ..., method: _Optional[str] = ..., key_version: _Optional[int] = ..., env: _Optional[_Union[Env, str]] = ..., client_args_json: _Optional[str] = ...) -> None: ...

class SignApiCallRequest(_message.Message):
    __slots__ = ("app_id", "env", "uri", "body", "session_key")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    env: Env
    uri: str
    body: str
    session_key: str
    def __init__(self, app_id: _Optional[str] = ..., env: _Optional[_Union[Env, str]] = ..., uri: _Optional[str] = ..., body: _Optional[str] = ..., session_key: _Optional[str] = ...) -> None: ...

class SignApiCallResponse(_message.Message):
    __slots__ = ("pay_sig", "signature", "query", "key_version", "env")
    PAY_SIG_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    pay_sig: str
    signature: str
    query: str
    key_version: int
    env: Env
    def __init__(self, pay_sig: _Optional[str] = ..., signature: _Optional[str] = ..., query: _Optional[str] = ..., key_version: _Optional[int] = ..., env: _Optional[_Union[Env, str]] = ...) -> None: ...

class VerifySignatureRequest(_message.Message):
    __slots__ = ("app_id", "env", "scheme", "method", "payload", "signature", "session_key")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    env: Env
    scheme: SignatureScheme
    method: str
    payload: str
    signature: str
    session_key: str
    def __init__(self, app_id: _Optional[str] = ..., env: _Optional[_Union[Env, str]] = ..., scheme: _Optional[_Union[SignatureScheme, str]] = ..., method: _Optional[str] = ..., payload: _Optional[str] = ..., signature: _Optional[str] = ..., session_key: _Optional[str] = ...) -> None: ...

class VerifySignatureResponse(_message.Message):
    __slots__ = ("valid", "result", "key_version", "env")
    VALID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    result: VerifyResult
    key_version: int
    env: Env
    def __init__(self, valid: _Optional[bool] = ..., result: _Optional[_Union[VerifyResult, str]] = ..., key_version: _Optional[int] = ..., env: _Optional[_Union[Env, str]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message", "reason", "violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    reason: str
    violations: _containers.RepeatedCompositeFieldContainer[ItemFieldViolation]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[ItemFieldViolation, _Mapping]]] = ...) -> None: ...

class ItemFieldViolation(_message.Message):
    __slots__ = ("field", "reason", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    reason: str
    description: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class BatchSignOrdersRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[SignOrderRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[SignOrderRequest, _Mapping]]] = ...) -> None: ...

class BatchSignOrdersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SignOrderResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SignOrderResult, _Mapping]]] = ...) -> None: ...

class SignOrderResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: SignOrderResponse
    error: ItemError
    def __init__(self, response: _Optional[_Union[SignOrderResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class BatchSignApiCallsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[SignApiCallRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[SignApiCallRequest, _Mapping]]] = ...) -> None: ...

class BatchSignApiCallsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SignApiCallResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SignApiCallResult, _Mapping]]] = ...) -> None: ...

class SignApiCallResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: SignApiCallResponse
    error: ItemError
    def __init__(self, response: _Optional[_Union[SignApiCallResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class VerifyNotificationRequest(_message.Message):
    __slots__ = ("app_id", "http_method", "query", "body")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    HTTP_METHOD_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    http_method: str
    query: str
    body: bytes
    def __init__(self, app_id: _Optional[str] = ..., http_method: _Optional[str] = ..., query: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class VerifyNotificationResponse(_message.Message):
    __slots__ = ("result", "reject_reason", "ack", "nack", "notification")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    result: NotificationResult
    reject_reason: str
    ack: HttpReply
    nack: HttpReply
    notification: Notification
    def __init__(self, result: _Optional[_Union[NotificationResult, str]] = ..., reject_reason: _Optional[str] = ..., ack: _Optional[_Union[HttpReply, _Mapping]] = ..., nack: _Optional[_Union[HttpReply, _Mapping]] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ...) -> None: ...

class HttpReply(_message.Message):
    __slots__ = ("status", "content_type", "body")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    status: int
    content_type: str
    body: bytes
    def __init__(self, status: _Optional[int] = ..., content_type: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("event", "msg_type", "create_time", "openid", "is_mock", "env", "out_trade_no", "message", "payload", "body_authenticated", "encrypted", "key_version", "aes_key_version", "kind", "format", "to_user_name", "from_user_name", "pay_model", "goods", "coin", "refund", "complaint", "wechat_pay", "team")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MSG_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    OPENID_FIELD_NUMBER: _ClassVar[int]
    IS_MOCK_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    BODY_AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    AES_KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TO_USER_NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_USER_NAME_FIELD_NUMBER: _ClassVar[int]
    PAY_MODEL_FIELD_NUMBER: _ClassVar[int]
    GOODS_FIELD_NUMBER: _ClassVar[int]
    COIN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    COMPLAINT_FIELD_NUMBER: _ClassVar[int]
    WECHAT_PAY_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    event: str
    msg_type: str
    create_time: int
    openid: str
    is_mock: bool
    env: Env
    out_trade_no: str
    message: str
    payload: str
    body_authenticated: bool
    encrypted: bool
    key_version: int
    aes_key_version: int
    kind: NotificationKind
    format: NotificationFormat
    to_user_name: str
    from_user_name: str
    pay_model: str
    goods: NotificationGoods
    coin: NotificationCoin
    refund: NotificationRefund
    complaint: NotificationComplaint
    wechat_pay: WeChatPayInfo
    team: TeamInfo
    def __init__(self, event: _Optional[str] = ..., msg_type: _Optional[str] = ..., create_time: _Optional[int] = ..., openid: _Optional[str] = ..., is_mock: _Optional[bool] = ..., env: _Optional[_Union[Env, str]] = ..., out_trade_no: _Optional[str] = ..., message: _Optional[str] = ..., payload: _Optional[str] = ..., body_authenticated: _Optional[bool] = ..., encrypted: _Optional[bool] = ..., key_version: _Optional[int] = ..., aes_key_version: _Optional[int] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., format: _Optional[_Union[NotificationFormat, str]] = ..., to_user_name: _Optional[str] = ..., from_user_name: _Optional[str] = ..., pay_model: _Optional[str] = ..., goods: _Optional[_Union[NotificationGoods, _Mapping]] = ..., coin: _Optional[_Union[NotificationCoin, _Mapping]] = ..., refund: _Optional[_Union[NotificationRefund, _Mapping]] = ..., complaint: _Optional[_Union[NotificationComplaint, _Mapping]] = ..., wechat_pay: _Optional[_Union[WeChatPayInfo, _Mapping]] = ..., team: _Optional[_Union[TeamInfo, _Mapping]] = ...) -> None: ...

class NotificationGoods(_message.Message):
    __slots__ = ("product_id", "quantity", "zone_id", "orig_price", "actual_price", "attach", "order_source")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_PRICE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    ATTACH_FIELD_NUMBER: _ClassVar[int]
    ORDER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    quantity: int
    zone_id: str
    orig_price: int
    actual_price: int
    attach: str
    order_source: str
    def __init__(self, product_id: _Optional[str] = ..., quantity: _Optional[int] = ..., zone_id: _Optional[str] = ..., orig_price: _Optional[int] = ..., actual_price: _Optional[int] = ..., attach: _Optional[str] = ..., order_source: _Optional[str] = ...) -> None: ...

class NotificationCoin(_message.Message):
    __slots__ = ("quantity", "zone_id", "orig_price", "actual_price", "attach")
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_PRICE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    ATTACH_FIELD_NUMBER: _ClassVar[int]
    quantity: int
    zone_id: str
    orig_price: int
    actual_price: int
    attach: str
    def __init__(self, quantity: _Optional[int] = ..., zone_id: _Optional[str] = ..., orig_price: _Optional[int] = ..., actual_price: _Optional[int] = ..., attach: _Optional[str] = ...) -> None: ...

class NotificationRefund(_message.Message):
    __slots__ = ("refund_id", "refund_amount", "refund_source", "wx_refund_id", "mch_refund_id", "wx_order_id", "mch_order_id", "refund_fee", "ret_code", "ret_msg", "refund_start_timestamp", "refund_succ_timestamp", "wxpay_refund_transaction_id", "retry_times")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_SOURCE_FIELD_NUMBER: _ClassVar[int]
    WX_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    MCH_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    WX_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MCH_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_FIELD_NUMBER: _ClassVar[int]
    RET_CODE_FIELD_NUMBER: _ClassVar[int]
    RET_MSG_FIELD_NUMBER: _ClassVar[int]
    REFUND_START_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    REFUND_SUCC_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    WXPAY_REFUND_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_TIMES_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    refund_amount: int
    refund_source: int
    wx_refund_id: str
    mch_refund_id: str
    wx_order_id: str
    mch_order_id: str
    refund_fee: int
    ret_code: int
    ret_msg: str
    refund_start_timestamp: int
    refund_succ_timestamp: int
    wxpay_refund_transaction_id: str
    retry_times: int
    def __init__(self, refund_id: _Optional[str] = ..., refund_amount: _Optional[int] = ..., refund_source: _Optional[int] = ..., wx_refund_id: _Optional[str] = ..., mch_refund_id: _Optional[str] = ..., wx_order_id: _Optional[str] = ..., mch_order_id: _Optional[str] = ..., refund_fee: _Optional[int] = ..., ret_code: _Optional[int] = ..., ret_msg: _Optional[str] = ..., refund_start_timestamp: _Optional[int] = ..., refund_succ_timestamp: _Optional[int] = ..., wxpay_refund_transaction_id: _Optional[str] = ..., retry_times: _Optional[int] = ...) -> None: ...

class NotificationComplaint(_message.Message):
    __slots__ = ("wx_order_id", "mch_order_id", "complaint_time", "retry_times", "request_id")
    WX_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    MCH_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLAINT_TIME_FIELD_NUMBER: _ClassVar[int]
    RETRY_TIMES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    wx_order_id: str
    mch_order_id: str
    complaint_time: int
    retry_times: int
    request_id: str
    def __init__(self, wx_order_id: _Optional[str] = ..., mch_order_id: _Optional[str] = ..., complaint_time: _Optional[int] = ..., retry_times: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class WeChatPayInfo(_message.Message):
    __slots__ = ("mch_order_no", "transaction_id", "paid_time")
    MCH_ORDER_NO_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_TIME_FIELD_NUMBER: _ClassVar[int]
    mch_order_no: str
    transaction_id: str
    paid_time: int
    def __init__(self, mch_order_no: _Optional[str] = ..., transaction_id: _Optional[str] = ..., paid_time: _Optional[int] = ...) -> None: ...

class TeamInfo(_message.Message):
    __slots__ = ("activity_id", "team_id", "team_type", "team_action")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_TYPE_FIELD_NUMBER: _ClassVar[int]
    TEAM_ACTION_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    team_id: str
    team_type: str
    team_action: str
    def __init__(self, activity_id: _Optional[str] = ..., team_id: _Optional[str] = ..., team_type: _Optional[str] = ..., team_action: _Optional[str] = ...) -> None: ...
