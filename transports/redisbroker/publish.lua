-- Publish one event: number it, keep it, send it. Atomic (one script).
-- KEYS[1] meta hash {e = epoch, s = latest seq}, KEYS[2] history stream.
-- ARGV: 1 body, 2 stream MAXLEN (~), 3 stream TTL (s), 4 meta TTL (s),
--       5 the epoch to create when the topic has none, 6 pub/sub channel.
-- Returns {seq, epoch}.
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  -- A topic Redis does not know (lost, expired or new) starts a new epoch;
  -- a stream left without its meta belongs to the old one.
  epoch = ARGV[5]
  redis.call('hset', KEYS[1], 'e', epoch)
  redis.call('del', KEYS[2])
end
local seq = redis.call('hincrby', KEYS[1], 's', 1)
redis.call('expire', KEYS[1], ARGV[4])
redis.call('xadd', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'd', ARGV[1])
redis.call('expire', KEYS[2], ARGV[3])
redis.call('publish', ARGV[6], epoch .. '\n' .. seq .. '\n' .. ARGV[1])
return {seq, epoch}
