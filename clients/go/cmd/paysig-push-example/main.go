// Command paysig-push-example is a game server's push URL: it takes WeChat's
// payment notifications for one app and delivers each order once.
//
//	go run ./cmd/paysig-push-example -target 127.0.0.1:50051 -app demo-minigame -listen :8080
//
// In the WeChat console, set the message-push URL to
// https://<your host>/wechat/push (behind your TLS proxy), the Token and
// EncodingAESKey to those of the app's [apps.push] table in paysig's config,
// the encryption mode to "safe mode" and the data format to JSON.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// orders stands for the game's database: delivering twice must be impossible,
// since WeChat repeats a push until it gets the ack.
type orders struct {
	mu        sync.Mutex
	delivered map[string]bool
}

func (o *orders) deliver(_ context.Context, n *paysigv1.Notification) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.delivered[n.GetOutTradeNo()] {
		return nil // a repeat: answer it like the first
	}
	switch n.GetKind() {
	case paysigv1.NotificationKind_NOTIFICATION_KIND_GOODS_DELIVER:
		log.Printf("deliver %d x %s to %s (order %s)", n.GetGoods().GetQuantity(), n.GetGoods().GetProductId(),
			n.GetOpenid(), n.GetOutTradeNo())
	case paysigv1.NotificationKind_NOTIFICATION_KIND_COIN_DELIVER:
		log.Printf("credit %d coins to %s (order %s)", n.GetCoin().GetQuantity(), n.GetOpenid(), n.GetOutTradeNo())
	default:
		log.Printf("notification %s (%s) for order %q", n.GetEvent(), n.GetKind(), n.GetOutTradeNo())
	}
	o.delivered[n.GetOutTradeNo()] = true
	return nil
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "paysig server address")
	app := flag.String("app", "demo-minigame", "app_id in paysig's config, with an [apps.push] table")
	listen := flag.String("listen", "127.0.0.1:8080", "address of the push URL")
	flag.Parse()

	client, err := paysig.Dial(*target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	game := &orders{delivered: map[string]bool{}}
	mux := http.NewServeMux()
	mux.Handle("/wechat/push", paysig.NotificationHandler(client, *app, game.deliver,
		paysig.OnNotificationError(func(r *http.Request, err error) { log.Printf("push %s: %v", r.URL.Path, err) })))
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 2 * time.Second}
	log.Printf("push URL http://%s/wechat/push for app %s", *listen, *app)
	log.Fatal(server.ListenAndServe())
}
