package flow

// Fanout returns a func(T) that passes each tuple to every target in order. With one target it returns it.
func Fanout[T any](targets []func(T)) func(T) {
	switch len(targets) {
	case 0:
		return func(T) {}
	case 1:
		return targets[0]
	case 2:
		a, b := targets[0], targets[1]
		return func(t T) { a(t); b(t) }
	}
	return func(t T) {
		for _, f := range targets {
			f(t)
		}
	}
}

// RoundRobin returns a func(T) that passes tuples to the targets in turn.
func RoundRobin[T any](targets []func(T)) func(T) {
	if len(targets) == 1 {
		return targets[0]
	}
	i := 0
	return func(t T) {
		targets[i](t)
		i++
		if i == len(targets) {
			i = 0
		}
	}
}

// HashRoute returns a func(T) that passes each tuple to targets[hash(t) % len(targets)], so equal keys always
// reach the same channel.
func HashRoute[T any](targets []func(T), hash func(T) uint64) func(T) {
	n := uint64(len(targets))
	if n == 1 {
		return targets[0]
	}
	return func(t T) { targets[hash(t)%n](t) }
}
