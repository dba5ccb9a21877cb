// Command load drives an etcd cluster over its native gRPC API with go.etcd.io/etcd/client/v3:
// `-clients` closed-loop callers share `-conns` client connections (gRPC multiplexes calls on
// each), for `-duration`, cycling over `-keys` keys with `-value-bytes` values. One JSON line on
// stdout: {"ops":n,"opsPerSecond":x,"p50Ms":x,"p99Ms":x,"errors":n}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

type result struct {
	Ops          int     `json:"ops"`
	OpsPerSecond float64 `json:"opsPerSecond"`
	P50Ms        float64 `json:"p50Ms"`
	P99Ms        float64 `json:"p99Ms"`
	Errors       int     `json:"errors"`
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	op := flag.String("op", "put", "put | get | get-serializable | preload")
	clients := flag.Int("clients", 64, "closed-loop callers")
	conns := flag.Int("conns", 8, "client connections the callers share")
	duration := flag.Duration("duration", 5*time.Second, "how long to run")
	keys := flag.Int("keys", 1000, "keys to cycle over")
	valueBytes := flag.Int("value-bytes", 100, "value size")
	leaderOnly := flag.Bool("leader-only", false, "send every call to the current leader's endpoint")
	flag.Parse()

	targets := strings.Split(*endpoints, ",")
	if *leaderOnly {
		targets = []string{leaderOf(targets)}
	}
	pool := make([]*clientv3.Client, *conns)
	for i := range pool {
		c, err := clientv3.New(clientv3.Config{Endpoints: targets, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		pool[i] = c
	}
	value := strings.Repeat("v", *valueBytes)
	if *op == "preload" {
		preload(pool[0], *keys, value)
		return
	}
	res := run(pool, *op, *clients, *duration, *keys, value)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// leaderOf asks each endpoint for its status and returns the one whose member id is the leader.
func leaderOf(endpoints []string) string {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer c.Close()
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(ctx, ep)
		cancel()
		if err == nil && st.Header.MemberId == st.Leader {
			return ep
		}
	}
	fmt.Fprintln(os.Stderr, "no endpoint reports itself as the leader")
	os.Exit(1)
	return ""
}

func preload(c *clientv3.Client, keys int, value string) {
	for i := 0; i < keys; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Put(ctx, fmt.Sprintf("k%d", i), value)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "preload:", err)
			os.Exit(1)
		}
	}
}

// run keeps `clients` calls in flight until the deadline; each caller records its latencies.
func run(pool []*clientv3.Client, op string, clients int, duration time.Duration, keys int, value string) result {
	var wg sync.WaitGroup
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	deadline := time.Now().Add(duration)
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := pool[w%len(pool)]
			for i := w; time.Now().Before(deadline); i += clients {
				key := fmt.Sprintf("k%d", i%keys)
				t0 := time.Now()
				if err := call(c, op, key, value); err != nil {
					errs[w]++
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	res := result{}
	for w := range lat {
		all = append(all, lat[w]...)
		res.Errors += errs[w]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	res.Ops = len(all)
	res.OpsPerSecond = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		res.P50Ms = ms(all[len(all)*50/100])
		res.P99Ms = ms(all[len(all)*99/100])
	}
	return res
}

func call(c *clientv3.Client, op, key, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	switch op {
	case "put":
		_, err = c.Put(ctx, key, value)
	case "get":
		_, err = c.Get(ctx, key)
	case "get-serializable":
		_, err = c.Get(ctx, key, clientv3.WithSerializable())
	default:
		err = fmt.Errorf("unknown op %q", op)
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
