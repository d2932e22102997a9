// Command paysig-example signs one mini-game order against a paysig server
// (`make run`) and prints the arguments of wx.requestMidasPaymentGameItem.
//
//	go run ./cmd/paysig-example -target 127.0.0.1:50051
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

func main() {
	target := flag.String("target", "127.0.0.1:50051", "paysig server address")
	flag.Parse()

	client, err := paysig.Dial(*target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	signed, err := client.SignOrder(context.Background(), &paysigv1.SignOrderRequest{
		AppId:      "demo-minigame",
		Env:        paysigv1.Env_ENV_SANDBOX,
		Api:        paysigv1.PaymentApi_PAYMENT_API_GAME_ITEM,
		SessionKey: "9hAb/NEYUlkaMBEsmFgzig==", // the player's session_key from code2session
		Order: &paysigv1.Order{
			ProductId:   "sword",
			GoodsPrice:  600, // fen
			BuyQuantity: 1,
			OutTradeNo:  "example-0001",
			Attach:      "player=42",
		},
	})
	if perr, ok := paysig.AsError(err); ok {
		for _, v := range perr.Violations {
			log.Printf("%s: %s (%s)", v.Field, v.Description, v.Reason)
		}
		log.Fatal(perr)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key version %d (%s)\n", signed.GetKeyVersion(), signed.GetEnv())
	fmt.Println("wx.requestMidasPaymentGameItem arguments:")
	fmt.Println(signed.GetClientArgsJson())
}
