-- Read a topic's history after a cursor, with its epoch and bounds.
-- KEYS[1] meta hash, KEYS[2] history stream.
-- ARGV: 1 after (decimal), 2 events kept (the hub's history), 3 the epoch
--       to create when the topic has none, 4 meta TTL (s).
-- Returns {epoch, latest, start, entries, last entry or false}.
local meta = redis.call('hmget', KEYS[1], 'e', 's')
local epoch, latest = meta[1], tonumber(meta[2] or '0')
if not epoch then
  epoch = ARGV[3]
  latest = 0
  redis.call('hset', KEYS[1], 'e', epoch)
  redis.call('del', KEYS[2])
end
redis.call('expire', KEYS[1], ARGV[4])
local start = latest - tonumber(ARGV[2]) + 1
local first = redis.call('xrange', KEYS[2], '-', '+', 'COUNT', 1)[1]
if first then
  local s = tonumber(string.match(first[1], '^(%d+)'))
  if s > start then start = s end
else
  start = latest + 1
end
if start < 1 then start = 1 end
local from = tonumber(ARGV[1]) + 1
if from < start then from = start end
local entries = {}
if from <= latest then
  entries = redis.call('xrange', KEYS[2], string.format('%d-0', from), '+')
end
local last = redis.call('xrevrange', KEYS[2], '+', '-', 'COUNT', 1)[1] or false
return {epoch, latest, start, entries, last}
