package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/redistest"
)

func TestCluster(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 4} {
		t.Run(fmt.Sprint(n, " nodes"), func(t *testing.T) {
			t.Parallel()
			c := redistest.StartCluster(t, n)
			if want := "redis+cluster://" + strings.Join(c.Addrs(), ","); c.URL() != want {
				t.Errorf("URL() = %q, want %q", c.URL(), want)
			}
			if len(c.Servers()) != n {
				t.Fatalf("%d servers, want %d", len(c.Servers()), n)
			}
			cc := c.Client(t)
			ctx := t.Context()

			for i := range 100 {
				if err := cc.Set(ctx, fmt.Sprint("key", i), i, 0).Err(); err != nil {
					t.Fatalf("SET key%d: %v", i, err)
				}
			}
			for i := range 100 {
				if v, err := cc.Get(ctx, fmt.Sprint("key", i)).Int(); err != nil || v != i {
					t.Fatalf("GET key%d = %d, %v", i, v, err)
				}
			}

			// A script may touch several keys only if they share a slot.
			got, err := cc.Eval(ctx, `
				redis.call("SET", KEYS[1], ARGV[1])
				redis.call("SET", KEYS[2], ARGV[2])
				return redis.call("MGET", KEYS[1], KEYS[2])`,
				[]string{"{st}a", "{st}b"}, "x", "y").StringSlice()
			if err != nil || strings.Join(got, ",") != "x,y" {
				t.Errorf("EVAL over {st} keys = %v, %v; want [x y]", got, err)
			}

			masters := make(chan string, n)
			err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
				size, err := m.DBSize(ctx).Result()
				if err != nil {
					return fmt.Errorf("DBSIZE on %s: %w", m.Options().Addr, err)
				}
				if size == 0 {
					return fmt.Errorf("DBSIZE on %s = 0; want keys on every node", m.Options().Addr)
				}
				masters <- m.Options().Addr
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			if len(masters) != n {
				t.Errorf("ForEachMaster visited %d masters, want %d", len(masters), n)
			}
		})
	}
}
