// SPDX-License-Identifier: MIT

// kube-signer-go: kube-apiserver's side of the external JWT signer, on
// grpc-go as kube-apiserver is, with its dial options: plaintext HTTP/2 to a
// Unix socket through a context dialer, authority "localhost", FetchKeys and
// Metadata at start with WaitForReady, then Sign calls from many goroutines
// on the one connection. Messages are written with protowire (no generated
// code: Debian ships no protoc-gen-go-grpc); the wire is the same.
//
// Usage: kube-signer-go SOCKET CALLS CONCURRENCY
// Prints one line per token: header.claims.signature, then "ok".
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec sends and receives already-encoded messages.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func fields(b []byte) (map[protowire.Number][][]byte, map[protowire.Number]uint64) {
	bytesF := map[protowire.Number][][]byte{}
	varF := map[protowire.Number]uint64{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			fail("bad tag")
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				fail("bad bytes")
			}
			bytesF[num] = append(bytesF[num], v)
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				fail("bad varint")
			}
			varF[num] = v
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				fail("bad field")
			}
			b = b[m:]
		}
	}
	return bytesF, varF
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "kube-signer-go: "+format+"\n", a...)
	os.Exit(1)
}

func call(ctx context.Context, conn *grpc.ClientConn, method string, req []byte) []byte {
	var resp []byte
	err := conn.Invoke(ctx, "/v1.ExternalJWTSigner/"+method, &req, &resp,
		grpc.WaitForReady(true), grpc.ForceCodec(rawCodec{}))
	if err != nil {
		fail("%s: %v", method, err)
	}
	return resp
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: kube-signer-go SOCKET CALLS CONCURRENCY")
	}
	socket := os.Args[1]
	calls, _ := strconv.Atoi(os.Args[2])
	concurrency, _ := strconv.Atoi(os.Args[3])
	_ = encoding.GetCodec // the codec is forced per call

	// As kube-apiserver dials --service-account-signing-endpoint.
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	conn, err := grpc.Dial(socket, grpc.WithInsecure(), grpc.WithAuthority("localhost"),
		grpc.WithContextDialer(dialer))
	if err != nil {
		fail("dial: %v", err)
	}
	defer conn.Close()

	// Start-up: FetchKeys (60 s, wait for ready) and Metadata; kube exits if either fails.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	keysResp := call(ctx, conn, "FetchKeys", nil)
	cancel()
	kb, kv := fields(keysResp)
	if len(kb[1]) == 0 || kv[3] == 0 || len(kb[2]) == 0 {
		fail("FetchKeys: no keys, no refresh hint or no data_timestamp")
	}
	kids := map[string]bool{}
	for _, key := range kb[1] {
		b, v := fields(key)
		if len(b[1]) == 0 || len(b[2]) == 0 || v[3] != 0 {
			fail("FetchKeys: a key without id or DER, or excluded from discovery")
		}
		kids[string(b[1][0])] = true
	}
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	_, mv := fields(call(ctx, conn, "Metadata", nil))
	cancel()
	if mv[1] < 600 {
		fail("Metadata: max_token_expiration_seconds %d < 600", mv[1])
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	out := make([]string, 0, calls)
	lat := make([]time.Duration, 0, calls)
	start := time.Now()
	next := make(chan int, calls)
	for i := 0; i < calls; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				now := time.Now().Unix()
				claims, _ := json.Marshal(map[string]interface{}{
					"aud": []string{os.Getenv("KUBE_ISSUER")}, "exp": now + 600, "iat": now,
					"nbf": now, "iss": os.Getenv("KUBE_ISSUER"),
					"jti": fmt.Sprintf("go-%d", i),
					"sub": "system:serviceaccount:default:go"})
				c64 := base64.RawURLEncoding.EncodeToString(claims)
				req := protowire.AppendTag(nil, 1, protowire.BytesType)
				req = protowire.AppendString(req, c64)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				t := time.Now()
				b, _ := fields(call(ctx, conn, "Sign", req))
				d := time.Since(t)
				cancel()
				if len(b[1]) == 0 || len(b[2]) == 0 {
					fail("Sign: no header or signature")
				}
				hdr, err := base64.RawURLEncoding.DecodeString(string(b[1][0]))
				if err != nil {
					fail("Sign: header is not unpadded base64url")
				}
				var h map[string]string
				if json.Unmarshal(hdr, &h) != nil || len(h) != 3 || h["typ"] != "JWT" ||
					h["kid"] == "" || !kids[h["kid"]] {
					fail("Sign: header %s is not what kube accepts", hdr)
				}
				mu.Lock()
				out = append(out, string(b[1][0])+"."+c64+"."+string(b[2][0]))
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// For the bench (tests/bench/kube_signer.py): calls/s, p50 and p99 in ms.
	if os.Getenv("KUBE_GO_STATS") != "" {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(os.Stderr, "stats %.0f %.3f %.3f\n", float64(len(lat))/elapsed.Seconds(),
			float64(lat[len(lat)/2].Microseconds())/1000,
			float64(lat[len(lat)*99/100].Microseconds())/1000)
	}
	for _, t := range out {
		fmt.Println(t)
	}
	fmt.Println("ok")
}
