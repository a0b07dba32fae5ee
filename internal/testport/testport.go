// Package testport picks free loopback ports for the servers tests start
// (redis-server, exim, RabbitMQ, Prometheus). A port can still be taken
// between the pick and the server's bind, so callers retry on bind errors.
package testport

import (
	"net"
	"strconv"
)

// Free asks the kernel for n distinct free TCP ports on 127.0.0.1.
func Free(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// Held open until all are picked, so they differ.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// HostPort is "127.0.0.1:port".
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
