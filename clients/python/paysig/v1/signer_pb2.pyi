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

class DiagnosisVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGNOSIS_VERDICT_UNSPECIFIED: _ClassVar[DiagnosisVerdict]
    DIAGNOSIS_VERDICT_VALID: _ClassVar[DiagnosisVerdict]
    DIAGNOSIS_VERDICT_EXPLAINED: _ClassVar[DiagnosisVerdict]
    DIAGNOSIS_VERDICT_UNEXPLAINED: _ClassVar[DiagnosisVerdict]
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
DIAGNOSIS_VERDICT_UNSPECIFIED: DiagnosisVerdict
DIAGNOSIS_VERDICT_VALID: DiagnosisVerdict
DIAGNOSIS_VERDICT_EXPLAINED: DiagnosisVerdict
DIAGNOSIS_VERDICT_UNEXPLAINED: DiagnosisVerdict

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

class DiagnoseSignatureRequest(_message.Message):
    __slots__ = ("app_id", "scheme", "method", "payload", "signature", "session_key", "env", "wechat_error_code", "wechat_error_message")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WECHAT_ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    WECHAT_ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    scheme: SignatureScheme
    method: str
    payload: str
    signature: str
    session_key: str
    env: Env
    wechat_error_code: int
    wechat_error_message: str
    def __init__(self, app_id: _Optional[str] = ..., scheme: _Optional[_Union[SignatureScheme, str]] = ..., method: _Optional[str] = ..., payload: _Optional[str] = ..., signature: _Optional[str] = ..., session_key: _Optional[str] = ..., env: _Optional[_Union[Env, str]] = ..., wechat_error_code: _Optional[int] = ..., wechat_error_message: _Optional[str] = ...) -> None: ...

class DiagnoseSignatureResponse(_message.Message):
    __slots__ = ("verdict", "findings", "error_code_meaning")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_MEANING_FIELD_NUMBER: _ClassVar[int]
    verdict: DiagnosisVerdict
    findings: _containers.RepeatedCompositeFieldContainer[DiagnosisFinding]
    error_code_meaning: str
    def __init__(self, verdict: _Optional[_Union[DiagnosisVerdict, str]] = ..., findings: _Optional[_Iterable[_Union[DiagnosisFinding, _Mapping]]] = ..., error_code_meaning: _Optional[str] = ...) -> None: ...

class DiagnosisFinding(_message.Message):
    __slots__ = ("code", "message", "expected_signature", "expected_payload", "expected_method", "key_env", "key_version", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_METHOD_FIELD_NUMBER: _ClassVar[int]
    KEY_ENV_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    expected_signature: str
    expected_payload: str
    expected_method: str
    key_env: Env
    key_version: int
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., expected_signature: _Optional[str] = ..., expected_payload: _Optional[str] = ..., expected_method: _Optional[str] = ..., key_env: _Optional[_Union[Env, str]] = ..., key_version: _Optional[int] = ..., field: _Optional[str] = ...) -> None: ...
