package client

// TrackParses makes c count, from now on, each metadata file it hands to
// go-tuf to parse and verify; the function returned gives the counts so
// far, by "ROLE SHA256".
func TrackParses(c *Client) func() map[string]int {
	c.parses = &parseLog{count: map[string]int{}}
	return func() map[string]int {
		c.parses.mu.Lock()
		defer c.parses.mu.Unlock()
		out := make(map[string]int, len(c.parses.count))
		for k, v := range c.parses.count {
			out[k] = v
		}
		return out
	}
}
