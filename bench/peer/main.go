// Command peer is the grpc-go reference point of `make bench`: a SignerService
// in Go, measured next to paysig on the same machine and load.
//
// With -mode sign it implements SignOrder and BatchSignOrders for minigame
// (requestMidasPaymentGameItem) and miniprogram (requestVirtualPayment) apps
// as paysig does: the same rules, the same signData, both HMACs, the same
// serialized response (bench/run.py checks the bytes against paysig's before
// measuring), an x-request-id trailer and one audit line per order written
// to -audit before the answer (with -sync always, on disk before the answer,
// one fdatasync shared by concurrent calls, as paysig's default [audit] sync
// = "always"). It is a benchmark peer, not a product: one
// app, one key, and errors without paysig's rich status details.
//
// With -mode floor it is the transport floor: SignOrder computes one HMAC
// over the order's out_trade_no and answers it, nothing else.
//
//	peer -listen 127.0.0.1:0 -mode sign -app bench -kind minigame -offer-id 1450000001 -key-file F -audit FILE
//
// It prints the port it listens on, then serves until SIGTERM.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	pb "github.com/paysig/paysig/clients/go/paysig/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const maxSafeInteger = 1<<53 - 1

// app is the one app the peer signs for.
type app struct {
	id, offerID string
	miniprogram bool
	env         pb.Env // the env whose key is configured
	key         []byte
	version     uint32
}

type server struct {
	pb.UnimplementedSignerServiceServer
	app    app
	appMAC sync.Pool // of hash.Hash: HMAC-SHA256 keyed with app.key, Reset before use
	audit  *os.File
	commit *groupCommit
}

// order is a validated SignOrderRequest with its defaults applied.
type order struct {
	req                                                     *pb.SignOrderRequest
	productID, outTradeNo, attach, currency, platform, zone string
	goodsPrice, buyQuantity                                 int64
	activitySellingPrice                                    *int64
}

func hasControlChars(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// text checks a text field: at most maxBytes bytes of UTF-8, no control characters.
func text(field, s string, maxBytes int, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%s: required", field)
	case len(s) > maxBytes:
		return fmt.Errorf("%s: at most %d bytes", field, maxBytes)
	case hasControlChars(s):
		return fmt.Errorf("%s: no control characters", field)
	}
	return nil
}

func positive(field string, v int64) error {
	if v < 1 || v > maxSafeInteger {
		return fmt.Errorf("%s: 1 to 2^53-1", field)
	}
	return nil
}

func outTradeNo(s string, minLength int) error {
	if len(s) < minLength || len(s) > 32 || s[0] == '_' {
		return fmt.Errorf("order.out_trade_no: %d to 32 characters, not starting with _", minLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte("_-|*@", c) >= 0) {
			return errors.New("order.out_trade_no: only 0-9 A-Z a-z _ - | * @")
		}
	}
	return nil
}

// validate applies paysig's rules for the peer's app (rules.py, ops/sign_order.py).
func (s *server) validate(req *pb.SignOrderRequest) (*order, error) {
	a := s.app
	if req.AppId != a.id {
		return nil, status.Errorf(codes.NotFound, "app_id: unknown app")
	}
	if req.Env != pb.Env_ENV_PRODUCTION && req.Env != pb.Env_ENV_SANDBOX {
		return nil, status.Error(codes.InvalidArgument, "env: required")
	}
	if req.Env != a.env {
		return nil, status.Error(codes.FailedPrecondition, "env: the app has no key for this env")
	}
	vp := a.miniprogram
	if vp && req.Api != pb.PaymentApi_PAYMENT_API_VIRTUAL_PAYMENT || !vp && req.Api != pb.PaymentApi_PAYMENT_API_GAME_ITEM {
		return nil, status.Error(codes.FailedPrecondition, "api: does not fit the app's kind")
	}
	goods := !vp || req.Mode == pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS
	if vp && req.Mode != pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS &&
		req.Mode != pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN || !vp && req.Mode != 0 {
		return nil, status.Error(codes.InvalidArgument, "mode: required for requestVirtualPayment, unset otherwise")
	}
	sk := req.SessionKey
	if len(sk) < 1 || len(sk) > 256 {
		return nil, status.Error(codes.InvalidArgument, "session_key: 1 to 256 printable ASCII characters")
	}
	for i := 0; i < len(sk); i++ {
		if sk[i] < 0x21 || sk[i] > 0x7e {
			return nil, status.Error(codes.InvalidArgument, "session_key: 1 to 256 printable ASCII characters")
		}
	}
	o := req.Order
	if o == nil {
		return nil, status.Error(codes.InvalidArgument, "order: required")
	}
	out := &order{req: req, productID: o.ProductId, outTradeNo: o.OutTradeNo, attach: o.Attach,
		currency: o.CurrencyType, platform: o.Platform, zone: o.ZoneId, goodsPrice: o.GoodsPrice,
		buyQuantity: o.BuyQuantity, activitySellingPrice: o.ActivitySellingPrice}
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	add(positive("order.buy_quantity", o.BuyQuantity))
	if goods {
		add(positive("order.goods_price", o.GoodsPrice))
		add(text("order.product_id", o.ProductId, 256, true))
	} else {
		if o.GoodsPrice != 0 {
			add(errors.New("order.goods_price: unset for short_series_coin"))
		}
		if o.ProductId != "" {
			add(errors.New("order.product_id: unset for short_series_coin"))
		}
	}
	if p := o.ActivitySellingPrice; p != nil {
		if !(vp && goods) {
			add(errors.New("order.activity_selling_price: requestVirtualPayment short_series_goods only"))
		} else if *p < 1 || *p > o.GoodsPrice {
			add(errors.New("order.activity_selling_price: 1 to goods_price"))
		}
	}
	minLength := 1
	if vp {
		minLength = 8
	}
	add(outTradeNo(o.OutTradeNo, minLength))
	add(text("order.attach", o.Attach, 1024, vp))
	if out.currency == "" {
		out.currency = "CNY"
	}
	if out.currency != "CNY" {
		add(errors.New("order.currency_type: CNY only"))
	}
	if vp {
		if o.Platform != "" || o.ZoneId != "" {
			add(errors.New("order.platform, order.zone_id: unset for requestVirtualPayment"))
		}
	} else {
		if out.platform == "" {
			out.platform = "android"
		}
		if out.platform != "android" {
			add(errors.New("order.platform: android only"))
		}
		if out.zone == "" {
			out.zone = "1"
		}
		add(text("order.zone_id", out.zone, 64, true))
	}
	if errs != nil {
		return nil, status.Error(codes.InvalidArgument, strings.Join(errs, "; "))
	}
	return out, nil
}

// appendJSONString writes s as Python's json (ensure_ascii=False) does.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// signData in signdata.py's field order for each method.
func (s *server) signData(o *order) []byte {
	env := "0"
	if o.req.Env == pb.Env_ENV_SANDBOX {
		env = "1"
	}
	b := make([]byte, 0, 256)
	if !s.app.miniprogram {
		b = append(b, `{"mode":"goods","offerId":`...)
		b = appendJSONString(b, s.app.offerID)
		b = append(b, `,"buyQuantity":`...)
		b = strconv.AppendInt(b, o.buyQuantity, 10)
		b = append(b, `,"env":`...)
		b = append(b, env...)
		b = append(b, `,"currencyType":`...)
		b = appendJSONString(b, o.currency)
		b = append(b, `,"platform":`...)
		b = appendJSONString(b, o.platform)
		b = append(b, `,"zoneId":`...)
		b = appendJSONString(b, o.zone)
		b = append(b, `,"productId":`...)
		b = appendJSONString(b, o.productID)
		b = append(b, `,"goodsPrice":`...)
		b = strconv.AppendInt(b, o.goodsPrice, 10)
		b = append(b, `,"outTradeNo":`...)
		b = appendJSONString(b, o.outTradeNo)
		if o.attach != "" {
			b = append(b, `,"attach":`...)
			b = appendJSONString(b, o.attach)
		}
	} else {
		b = append(b, `{"offerId":`...)
		b = appendJSONString(b, s.app.offerID)
		b = append(b, `,"buyQuantity":`...)
		b = strconv.AppendInt(b, o.buyQuantity, 10)
		b = append(b, `,"env":`...)
		b = append(b, env...)
		b = append(b, `,"currencyType":`...)
		b = appendJSONString(b, o.currency)
		if o.req.Mode == pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS {
			b = append(b, `,"productId":`...)
			b = appendJSONString(b, o.productID)
			b = append(b, `,"goodsPrice":`...)
			b = strconv.AppendInt(b, o.goodsPrice, 10)
			if o.activitySellingPrice != nil {
				b = append(b, `,"activitySellingPrice":`...)
				b = strconv.AppendInt(b, *o.activitySellingPrice, 10)
			}
		}
		b = append(b, `,"outTradeNo":`...)
		b = appendJSONString(b, o.outTradeNo)
		b = append(b, `,"attach":`...)
		b = appendJSONString(b, o.attach)
	}
	return append(b, '}')
}

func mac(key []byte, parts ...[]byte) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

var modeName = map[pb.VirtualPaymentMode]string{
	pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS: "short_series_goods",
	pb.VirtualPaymentMode_VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN:  "short_series_coin",
}

// sign signs a valid order and appends its audit line (after head) to audit.
func (s *server) sign(o *order, head []byte, audit []byte) (*pb.SignOrderResponse, []byte) {
	method := "requestMidasPaymentGameItem"
	api := "PAYMENT_API_GAME_ITEM"
	if s.app.miniprogram {
		method, api = "requestVirtualPayment", "PAYMENT_API_VIRTUAL_PAYMENT"
	}
	data := s.signData(o)
	m := s.appMAC.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(method + "&"))
	m.Write(data)
	paySig := hex.EncodeToString(m.Sum(nil))
	s.appMAC.Put(m)
	signature := mac([]byte(o.req.SessionKey), data)
	args := make([]byte, 0, len(data)+256)
	args = append(args, `{"signData":`...)
	args = appendJSONString(args, string(data))
	args = append(args, `,"paySig":"`...)
	args = append(args, paySig...)
	args = append(args, `","signature":"`...)
	args = append(args, signature...)
	args = append(args, '"')
	if s.app.miniprogram {
		args = append(args, `,"mode":"`...)
		args = append(args, modeName[o.req.Mode]...)
		args = append(args, '"')
	}
	args = append(args, '}')

	fp := sha256.Sum256([]byte(paySig))
	env := pb.Env_name[int32(o.req.Env)]
	audit = append(audit, head...)
	audit = append(audit, `,"app_id":`...)
	audit = appendJSONString(audit, o.req.AppId)
	audit = append(audit, `,"env":"`+env+`","api":"`+api+`","out_trade_no":`...)
	audit = appendJSONString(audit, o.outTradeNo)
	audit = append(audit, `,"product_id":`...)
	audit = appendJSONString(audit, o.productID)
	audit = append(audit, `,"goods_price":`...)
	audit = strconv.AppendInt(audit, o.goodsPrice, 10)
	audit = append(audit, `,"buy_quantity":`...)
	audit = strconv.AppendInt(audit, o.buyQuantity, 10)
	audit = append(audit, `,"code":"OK","key_version":`...)
	audit = strconv.AppendUint(audit, uint64(s.app.version), 10)
	audit = append(audit, `,"key_env":"`+env+`","signature_fp":"`+hex.EncodeToString(fp[:8])+"\"}\n"...)
	return &pb.SignOrderResponse{SignData: string(data), PaySig: paySig, Signature: signature, Method: method,
		KeyVersion: s.app.version, Env: o.req.Env, ClientArgsJson: string(args)}, audit
}

// head is the start of a call's audit lines, as audit.encoded_head writes it.
func head(ctx context.Context, rpc string) ([]byte, string) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	requestID := hex.EncodeToString(id[:])
	from := ""
	if p, ok := peer.FromContext(ctx); ok {
		from = "ipv4:" + p.Addr.String()
	}
	now := float64(time.Now().UnixMilli()) / 1000
	b := []byte(`{"ts":` + strconv.FormatFloat(now, 'f', 3, 64) + `,"rpc":"` + rpc + `","caller":"anonymous","peer":`)
	b = appendJSONString(b, from)
	b = append(b, `,"request_id":"`+requestID+`"`...)
	return b, requestID
}

func (s *server) writeAudit(lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	if err := s.commit.write(s.audit, lines); err != nil {
		return status.Error(codes.Unavailable, "audit log unavailable")
	}
	return nil
}

// groupCommit appends audit lines and, with durable, makes them durable
// before returning as paysig's [audit] sync = "always" does (audit.py's
// GroupCommit): the first writer to need an fdatasync leads it for every
// write made so far; writers arriving meanwhile wait for it or the next.
type groupCommit struct {
	durable       bool
	mu            sync.Mutex
	cond          *sync.Cond
	written, done uint64
	syncing       bool
}

func (g *groupCommit) write(f *os.File, lines []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := f.Write(lines); err != nil {
		return err
	}
	g.written++
	n := g.written
	for g.durable && g.done < n {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		through := g.written
		g.mu.Unlock()
		err := syscall.Fdatasync(int(f.Fd()))
		g.mu.Lock()
		g.syncing = false
		g.cond.Broadcast()
		if err != nil {
			return err
		}
		if through > g.done {
			g.done = through
		}
	}
	return nil
}

func (s *server) SignOrder(ctx context.Context, req *pb.SignOrderRequest) (*pb.SignOrderResponse, error) {
	h, requestID := head(ctx, "SignOrder")
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-request-id", requestID))
	o, err := s.validate(req)
	if err != nil {
		return nil, err
	}
	resp, line := s.sign(o, h, nil)
	if err := s.writeAudit(line); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *server) BatchSignOrders(ctx context.Context, req *pb.BatchSignOrdersRequest) (*pb.BatchSignOrdersResponse, error) {
	h, requestID := head(ctx, "BatchSignOrders")
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-request-id", requestID))
	if n := len(req.Requests); n < 1 || n > 1000 {
		return nil, status.Error(codes.InvalidArgument, "requests: 1 to 1,000")
	}
	out := &pb.BatchSignOrdersResponse{Results: make([]*pb.SignOrderResult, len(req.Requests))}
	var lines []byte
	for i, r := range req.Requests {
		o, err := s.validate(r)
		if err != nil {
			st, _ := status.FromError(err)
			out.Results[i] = &pb.SignOrderResult{Outcome: &pb.SignOrderResult_Error{Error: &pb.ItemError{
				Code: codeName(st.Code()), Message: st.Message(), Reason: "INVALID_REQUEST"}}}
			continue
		}
		var resp *pb.SignOrderResponse
		resp, lines = s.sign(o, h, lines)
		out.Results[i] = &pb.SignOrderResult{Outcome: &pb.SignOrderResult_Response{Response: resp}}
	}
	if err := s.writeAudit(lines); err != nil {
		return nil, err
	}
	return out, nil
}

// codeName is a status code's name as in google.rpc.Code: "INVALID_ARGUMENT".
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

type floor struct {
	pb.UnimplementedSignerServiceServer
}

func (floor) SignOrder(_ context.Context, req *pb.SignOrderRequest) (*pb.SignOrderResponse, error) {
	return &pb.SignOrderResponse{PaySig: mac([]byte("floor-key"), []byte(req.GetOrder().GetOutTradeNo()))}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HOST:PORT")
	mode := flag.String("mode", "sign", "sign (SignOrder as paysig) or floor (one HMAC only)")
	appID := flag.String("app", "bench", "the app_id signed for")
	kind := flag.String("kind", "minigame", "minigame or miniprogram")
	offerID := flag.String("offer-id", "1450000001", "the app's offerId")
	envName := flag.String("env", "production", "the env of -key: production or sandbox")
	keyFile := flag.String("key-file", "", "a file holding the AppKey (sign mode)")
	version := flag.Uint("key-version", 1, "the AppKey's version")
	auditPath := flag.String("audit", os.DevNull, "audit log file (appended)")
	syncMode := flag.String("sync", "none", "always (each answer after its lines are on disk, group commit, as paysig's default) or none")
	flag.Parse()

	srv := grpc.NewServer(grpc.MaxRecvMsgSize(2<<20), grpc.MaxSendMsgSize(16<<20))
	switch *mode {
	case "floor":
		pb.RegisterSignerServiceServer(srv, floor{})
	case "sign":
		key, err := os.ReadFile(*keyFile)
		if err != nil || len(key) == 0 || (*kind != "minigame" && *kind != "miniprogram") || !utf8.ValidString(*offerID) {
			fmt.Fprintln(os.Stderr, "peer: -key-file (non-empty), -kind minigame|miniprogram and -offer-id are required")
			os.Exit(2)
		}
		env := pb.Env_ENV_PRODUCTION
		if *envName == "sandbox" {
			env = pb.Env_ENV_SANDBOX
		}
		audit, err := os.OpenFile(*auditPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(2)
		}
		defer audit.Close()
		if *syncMode != "always" && *syncMode != "none" {
			fmt.Fprintln(os.Stderr, "peer: -sync always or none")
			os.Exit(2)
		}
		commit := &groupCommit{durable: *syncMode == "always"}
		commit.cond = sync.NewCond(&commit.mu)
		s := &server{app: app{id: *appID, offerID: *offerID, miniprogram: *kind == "miniprogram", env: env, key: key,
			version: uint32(*version)}, audit: audit, commit: commit}
		s.appMAC.New = func() any { return hmac.New(sha256.New, key) }
		pb.RegisterSignerServiceServer(srv, s)
	default:
		fmt.Fprintln(os.Stderr, "peer: -mode sign or floor")
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(2)
	}
	fmt.Println(lis.Addr().(*net.TCPAddr).Port)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		srv.GracefulStop()
	}()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}
