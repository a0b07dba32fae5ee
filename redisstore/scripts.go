package redisstore

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lib.lua
	libLua string
	//go:embed observe.lua
	observeLua string
	//go:embed quorum.lua
	quorumLua string
	//go:embed tick.lua
	tickLua string
	//go:embed load.lua
	loadLua string
	//go:embed human.lua
	humanLua string
	//go:embed uptime.lua
	uptimeLua string
	//go:embed beat.lua
	beatLua string
	//go:embed lease.lua
	leaseLua string
	//go:embed checks_write.lua
	checksWriteLua string
	//go:embed checks_read.lua
	checksReadLua string
	//go:embed poll.lua
	pollLua string
	//go:embed outbox.lua
	outboxLua string
)

// scripts are every script of the store, each the generated header, the
// shared lib.lua and its own text: one EVALSHA each.
type scripts struct {
	observe, tick, load, human, uptime, beat, lease *redis.Script
	checksWrite, checksRead, poll, outbox           *redis.Script
}

func newScripts() scripts {
	prelude := luaHeader() + libLua
	s := func(body string) *redis.Script { return redis.NewScript(prelude + body) }
	return scripts{
		observe: s(quorumLua + observeLua), tick: s(tickLua), load: s(loadLua), human: s(humanLua),
		uptime: s(uptimeLua), beat: s(beatLua), lease: s(leaseLua),
		checksWrite: s(checksWriteLua), checksRead: s(checksReadLua), poll: s(pollLua),
		outbox: s(outboxLua),
	}
}
