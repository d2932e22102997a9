// Command ceiling is the in-process reference point of `make bench`: one
// core building a mini-game signData and computing its paySig and user
// signature in a loop, with no network and no paysig code. It prints
// signatures (orders) per second of the process's CPU time (user+system, so
// that a shared machine does not lower it).
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}

func mac(key []byte, message string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(message))
	return hex.EncodeToString(m.Sum(nil))
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func main() {
	appKey, sessionKey := []byte("bench-production-key"), []byte("9hAb/NEYUlkaMBEsmFgzig==")
	seconds := 2.0
	if len(os.Args) > 1 {
		seconds, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	n := 0
	start := cpuSeconds()
	for time.Now().Before(deadline) {
		for i := 0; i < 1000; i++ {
			signData := `{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY",` +
				`"platform":"android","zoneId":"1","productId":` + quote("sword") + `,"goodsPrice":600,"outTradeNo":` +
				quote("bench-"+strconv.Itoa(n)) + `}`
			_ = mac(appKey, "requestMidasPaymentGameItem&"+signData)
			_ = mac(sessionKey, signData)
			n++
		}
	}
	fmt.Printf("%.0f\n", float64(n)/(cpuSeconds()-start))
}
