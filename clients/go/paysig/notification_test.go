package paysig_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/paysig/paysig/clients/go/internal/conformance"
	"github.com/paysig/paysig/clients/go/internal/testserver"
	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// The test plays WeChat: it builds pushes with the Go standard library
// (crypto/sha1, crypto/aes, crypto/hmac), independently of paysig, for the
// apps of tests/conformance/push.toml.

type pushApp struct{ token, aesKey, appid string }

var (
	mgApp = pushApp{"clientPushToken1", "ClientPushAesKeyClientPushAesKeyClientPush2", "wx00aa11bb22cc33dd"}
	mpApp = pushApp{"clientPushToken2", "MiniProgramPushAesKeyMiniProgramPushAesKey0", "wx44ee55ff66aa77bb"}
)

const (
	mgPreviousAESKey = "ClientPushAesKeyClientPushAesKeyClientPush1"
	mgPushAppKey     = "mg-push-production-key"
	goodsEvent       = "minigame_game_pay_goods_deliver_notify"
	openID           = "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"
)

func sha1Sorted(parts ...string) string {
	sorted := append([]string(nil), parts...)
	sort.Strings(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// wechatEncrypt is WeChat's safe-mode encryption: base64(AES-256-CBC(random16
// + big-endian length + message + appid)), key base64(EncodingAESKey+"="),
// IV the key's first 16 bytes, PKCS#7 padding to 32-byte blocks.
func wechatEncrypt(t *testing.T, encodingAESKey, appid string, message, random16 []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatalf("EncodingAESKey %q: %v", encodingAESKey, err)
	}
	plain := append(append([]byte(nil), random16...), binary.BigEndian.AppendUint32(nil, uint32(len(message)))...)
	plain = append(append(plain, message...), appid...)
	pad := 32 - len(plain)%32
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

type push struct {
	method, query string
	body          []byte
}

func safePush(token, encrypt string, xml bool) push {
	ts, nonce := "1714112445", "415670741"
	q := url.Values{"signature": {sha1Sorted(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"openid": {openID}, "encrypt_type": {"aes"}, "msg_signature": {sha1Sorted(token, ts, nonce, encrypt)}}
	body := fmt.Sprintf(`{"ToUserName":"gh_97417a04a28d","Encrypt":%q}`, encrypt)
	if xml {
		body = "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[" + encrypt +
			"]]></Encrypt></xml>"
	}
	return push{http.MethodPost, q.Encode(), []byte(body)}
}

func encryptedPush(t *testing.T, app pushApp, aesKey string, message []byte, xml bool) push {
	return safePush(app.token, wechatEncrypt(t, aesKey, app.appid, message, []byte("0123456789abcdef")), xml)
}

func goodsPayload(outTradeNo string) string {
	return `{"OpenId":"` + openID + `","Env":0,"OutTradeNo":"` + outTradeNo + `","GoodsInfo":{"ProductId":"sword",` +
		`"Quantity":2,"ZoneId":"1","OrigPrice":100,"ActualPrice":180,"Attach":"player-7","OrderSource":1},` +
		`"WeChatPayInfo":{"MchOrderNo":"M` + outTradeNo + `","TransactionId":"T` + outTradeNo + `"}}`
}

func payEventSig(key, event, payload string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(event + "&" + payload))
	return hex.EncodeToString(mac.Sum(nil))
}

// miniGameMessage is a goods event of app mg-push; sig "" means the right PayEventSig.
func miniGameMessage(outTradeNo string, mock, xml bool, sig string) []byte {
	payload := goodsPayload(outTradeNo)
	if sig == "" {
		sig = payEventSig(mgPushAppKey, goodsEvent, payload)
	}
	if xml {
		return []byte("<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><FromUserName><![CDATA[" + openID +
			"]]></FromUserName><CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[" +
			goodsEvent + "]]></Event><MiniGame><Payload><![CDATA[" + payload + "]]></Payload><PayEventSig><![CDATA[" + sig +
			"]]></PayEventSig><IsMock>" + fmt.Sprint(mock) + "</IsMock></MiniGame></xml>")
	}
	msg, _ := json.Marshal(map[string]any{"ToUserName": "gh_97417a04a28d", "FromUserName": openID,
		"CreateTime": 1714112445, "MsgType": "event", "Event": goodsEvent,
		"MiniGame": map[string]any{"Payload": payload, "PayEventSig": sig, "IsMock": mock}})
	return msg
}

func xpayGoodsMessage(outTradeNo string) []byte {
	msg, _ := json.Marshal(map[string]any{"ToUserName": "gh_97417a04a28d", "FromUserName": openID,
		"CreateTime": 1714112445, "MsgType": "event", "Event": "xpay_goods_deliver_notify", "OpenId": openID,
		"OutTradeNo": outTradeNo, "Env": 0,
		"WeChatPayInfo": map[string]any{"MchOrderNo": "M" + outTradeNo, "TransactionId": "T" + outTradeNo, "PaidTime": 1714112440},
		"GoodsInfo":     map[string]any{"ProductId": "gem", "Quantity": 3, "OrigPrice": 10, "ActualPrice": 30, "Attach": "a"}})
	return msg
}

type pushVectors struct {
	URLSignatures []struct {
		Token, Timestamp, Nonce, Signature, Echostr string
	} `json:"url_signatures"`
	Encrypt []struct {
		Token, Timestamp, Nonce, Random, Plaintext, Encrypt, Appid string
		EncodingAESKey                                             string `json:"encoding_aes_key"`
		MsgSignature                                               string `json:"msg_signature"`
	} `json:"encrypt"`
}

func loadPushVectors(t *testing.T) pushVectors {
	t.Helper()
	root, err := conformance.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "tests", "vectors", "wechat-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v pushVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The test's WeChat reproduces WeChat's published encryption vectors, so the
// pushes it builds are WeChat's.
func TestTestPushesMatchWeChatsVectors(t *testing.T) {
	v := loadPushVectors(t)
	if len(v.Encrypt) < 3 {
		t.Fatalf("only %d encryption vectors", len(v.Encrypt))
	}
	for _, e := range v.Encrypt {
		if got := wechatEncrypt(t, e.EncodingAESKey, e.Appid, []byte(e.Plaintext), []byte(e.Random)); got != e.Encrypt {
			t.Errorf("%s: Encrypt %s, want %s", e.Appid, got, e.Encrypt)
		}
		if e.MsgSignature != "" && sha1Sorted(e.Token, e.Timestamp, e.Nonce, e.Encrypt) != e.MsgSignature {
			t.Errorf("%s: msg_signature differs", e.Appid)
		}
	}
}

// game is the game server behind the handler: it delivers each order once
// and counts the calls.
type game struct {
	mu        sync.Mutex
	calls     map[string]int
	delivered map[string]bool
	failOnce  map[string]bool
}

func (g *game) deliver(_ context.Context, n *paysigv1.Notification) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[n.GetOutTradeNo()]++
	if !n.GetBodyAuthenticated() || n.GetKind() != paysigv1.NotificationKind_NOTIFICATION_KIND_GOODS_DELIVER {
		return fmt.Errorf("unexpected notification %v", n)
	}
	if g.failOnce[n.GetOutTradeNo()] {
		delete(g.failOnce, n.GetOutTradeNo())
		return errors.New("database down")
	}
	g.delivered[n.GetOutTradeNo()] = true
	return nil
}

type answer struct {
	status int
	ctype  string
	body   string
}

func TestNotificationHandlerEndToEnd(t *testing.T) {
	srv, err := testserver.Start("tests/conformance/push.toml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("server stop: %v", err)
		}
	})
	client, err := paysig.Dial(srv.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	g := &game{calls: map[string]int{}, delivered: map[string]bool{}, failOnce: map[string]bool{"GO-J": true}}
	var errs []error
	var errsMu sync.Mutex
	onError := paysig.OnNotificationError(func(_ *http.Request, err error) {
		errsMu.Lock()
		defer errsMu.Unlock()
		errs = append(errs, err)
	})
	mux := http.NewServeMux()
	mux.Handle("/wechat/mg", paysig.NotificationHandler(client, "mg-push", g.deliver, onError))
	mux.Handle("/wechat/mp", paysig.NotificationHandler(client, "mp-push", g.deliver, onError))
	mux.Handle("/wechat/url", paysig.NotificationHandler(client, "url-vector", g.deliver, onError))
	mux.Handle("/wechat/nope", paysig.NotificationHandler(client, "no-such-app", g.deliver, onError))
	wechat := httptest.NewServer(mux)
	defer wechat.Close()

	send := func(path string, p push) answer {
		t.Helper()
		req, err := http.NewRequest(p.method, wechat.URL+path+"?"+p.query, bytes.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := wechat.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(body)}
	}
	acked := func(a answer) bool {
		var reply struct{ ErrCode *int }
		if strings.HasPrefix(a.body, "<xml>") {
			return a.status == 200 && strings.Contains(a.body, "<ErrCode>0</ErrCode>")
		}
		return a.status == 200 && json.Unmarshal([]byte(a.body), &reply) == nil && reply.ErrCode != nil && *reply.ErrCode == 0
	}
	refused := func(a answer) bool { return a.status >= 400 && a.status < 500 }

	// The URL handshake, with WeChat's published vector.
	u := loadPushVectors(t).URLSignatures[0]
	hello := send("/wechat/url", push{http.MethodGet, url.Values{"signature": {u.Signature}, "timestamp": {u.Timestamp},
		"nonce": {u.Nonce}, "echostr": {u.Echostr}}.Encode(), nil})
	if hello.status != 200 || hello.body != u.Echostr {
		t.Errorf("handshake: %+v, want the echostr %s", hello, u.Echostr)
	}
	forgedHello := send("/wechat/url", push{http.MethodGet, url.Values{"signature": {sha1Sorted("wrong", "1", "2")},
		"timestamp": {"1"}, "nonce": {"2"}, "echostr": {"123"}}.Encode(), nil})
	if !refused(forgedHello) || strings.Contains(forgedHello.body, "123") {
		t.Errorf("forged handshake: %+v", forgedHello)
	}

	// Authentic pushes: delivered, acked; a repeat gets the same ack.
	first := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-A", false, false, ""), false))
	if !acked(first) || first.ctype != "application/json" {
		t.Errorf("goods push: %+v", first)
	}
	if again := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-A", false, false, ""), false)); again != first {
		t.Errorf("repeat: %+v, first answer %+v", again, first)
	}
	if a := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-B", false, true, ""), true)); !acked(a) {
		t.Errorf("XML goods push: %+v", a)
	}
	if a := send("/wechat/mg", encryptedPush(t, mgApp, mgPreviousAESKey, miniGameMessage("GO-C", false, false, ""), false)); !acked(a) {
		t.Errorf("push with the previous AES key: %+v", a)
	}
	if a := send("/wechat/mp", encryptedPush(t, mpApp, mpApp.aesKey, xpayGoodsMessage("GO-I"), false)); !acked(a) {
		t.Errorf("xpay goods push: %+v", a)
	}
	// A test push is acked without delivery.
	if a := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-D", true, false, ""), false)); !acked(a) {
		t.Errorf("mock push: %+v", a)
	}
	// A failed delivery gets the nack (WeChat retries), the retry the ack.
	failed := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-J", false, false, ""), false))
	if acked(failed) || failed.status != 200 || !strings.Contains(failed.body, "ErrCode") {
		t.Errorf("failed delivery: %+v, want the nack", failed)
	}
	if a := send("/wechat/mg", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-J", false, false, ""), false)); a != first {
		t.Errorf("retried delivery: %+v, want the ack %+v", a, first)
	}

	// Forgeries: refused, never delivered.
	genuine := wechatEncrypt(t, mgApp.aesKey, mgApp.appid, miniGameMessage("GO-E", false, false, ""), []byte("0123456789abcdef"))
	raw, _ := base64.StdEncoding.DecodeString(genuine)
	raw[len(raw)/2] ^= 0x01
	forgeries := map[string]push{
		"flipped Encrypt bit": safePush(mgApp.token, base64.StdEncoding.EncodeToString(raw), false),
		"wrong token":         safePush("wrongToken", genuine, false),
		"wrong appid": safePush(mgApp.token, wechatEncrypt(t, mgApp.aesKey, "wx9999999999999999",
			miniGameMessage("GO-F", false, false, ""), []byte("0123456789abcdef")), false),
		"unknown AES key": encryptedPush(t, mgApp, "UnknownKeyUnknownKeyUnknownKeyUnknownKey123",
			miniGameMessage("GO-F", false, false, ""), false),
		"bad PayEventSig": encryptedPush(t, mgApp, mgApp.aesKey,
			miniGameMessage("GO-G", false, false, payEventSig("not-the-key", goodsEvent, goodsPayload("GO-G"))), false),
		"plain push to a safe-mode app": {http.MethodPost, url.Values{"signature": {sha1Sorted(mgApp.token, "1", "2")},
			"timestamp": {"1"}, "nonce": {"2"}}.Encode(), miniGameMessage("GO-H", false, false, "")},
	}
	for name, p := range forgeries {
		if a := send("/wechat/mg", p); !refused(a) {
			t.Errorf("%s: %+v, want a 4xx", name, a)
		}
	}

	// What never reaches paysig, and calls it refuses.
	if a := send("/wechat/mg", push{http.MethodPut, "", nil}); a.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %+v", a)
	}
	big := encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-K", false, false, ""), false)
	big.body = append(big.body, bytes.Repeat([]byte(" "), paysig.MaxNotificationBody)...)
	if a := send("/wechat/mg", big); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %+v", a)
	}
	if a := send("/wechat/url", push{http.MethodGet, "timestamp=1&nonce=2", nil}); a.status != http.StatusBadRequest {
		t.Errorf("GET without signature: %+v", a)
	}
	errsBefore := len(errs)
	if a := send("/wechat/nope", encryptedPush(t, mgApp, mgApp.aesKey, miniGameMessage("GO-L", false, false, ""), false)); a.status != http.StatusServiceUnavailable {
		t.Errorf("unknown app: %+v", a)
	}
	errsMu.Lock()
	if len(errs) != errsBefore+1 {
		t.Errorf("unknown app: OnNotificationError saw %d errors, want 1 more", len(errs)-errsBefore)
	} else if perr, ok := paysig.AsError(errs[len(errs)-1]); !ok || perr.Reason != "APP_NOT_FOUND" || perr.RequestID == "" {
		t.Errorf("unknown app: reported %v", errs[len(errs)-1])
	}
	errsMu.Unlock()

	// Deliveries happened exactly for the authentic pushes.
	g.mu.Lock()
	defer g.mu.Unlock()
	wantCalls := map[string]int{"GO-A": 2, "GO-B": 1, "GO-C": 1, "GO-I": 1, "GO-J": 2}
	if fmt.Sprint(g.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("deliver calls %v, want %v", g.calls, wantCalls)
	}
	if fmt.Sprint(g.delivered) != fmt.Sprint(map[string]bool{"GO-A": true, "GO-B": true, "GO-C": true, "GO-I": true, "GO-J": true}) {
		t.Errorf("delivered %v", g.delivered)
	}
}
