import Foundation

/// Redis as an engineer would use it for trail's job, started by this run:
/// a hash per note (`note:<id>`: body, key, deposits, state, tags, times),
/// one sorted set `weight` scored by the same forward-decay key traild stores
/// (`key = log2(w) + t/h`, landmark at the epoch, so ZREVRANGE is "heaviest
/// now" at any instant), a sorted set `out:<note>` of trails per note scored
/// the same way, and a set per tag. Durable like traild: AOF on, appendfsync
/// always, so an acknowledged write is on disk.
final class RedisPeer {
    let socket: String
    let dir: String
    let child: ChildProcess
    let client: RESPClient

    /// Starts redis-server on a Unix socket in `dir` and loads the function library.
    init(executable: String, dir: String) throws {
        self.dir = dir
        socket = dir + "/redis.sock"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        child = try ChildProcess.start("redis-server", executable: executable, arguments: [
            "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir,
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
            "--logfile", "", "--loglevel", "warning",
        ], log: dir + "/redis.log")
        var connected: RESPClient?
        let deadline = Date().addingTimeInterval(15)
        while connected == nil {
            if let c = try? RESPClient(path: socket), (try? c.call(["PING"])) == .simple("PONG") {
                connected = c
            } else {
                guard Date() < deadline, child.isRunning else {
                    child.stop()
                    let log = (try? String(contentsOfFile: dir + "/redis.log", encoding: .utf8)) ?? ""
                    throw BenchFailure("redis-server did not answer PING on \(socket); its log ends:\n\(log.suffix(1500))")
                }
                usleep(20_000)
            }
        }
        client = connected!
        do {
            try client.call(["FUNCTION", "LOAD", "REPLACE", Self.library])
        } catch {
            child.stop()
            throw error
        }
    }

    func stop() {
        child.stop()
    }

    // MARK: loading

    /// Loads notes `range` of `set` (hash, weight, trails, tag set). A load
    /// is not measured, so appendfsync is `no` while it runs and back to
    /// `always` after.
    func load(_ set: Dataset, range: Range<Int>, prefix: String = "note:") throws {
        try client.call(["CONFIG", "SET", "appendfsync", "no"])
        defer { _ = try? client.call(["CONFIG", "SET", "appendfsync", "always"]) }
        let now = Date().timeIntervalSince1970
        let offset = now / 604_800
        var out: [UInt8] = []
        var count = 0
        func key(_ i: Int) -> String { prefix + Dataset.redisKey(i).dropFirst("note:".count) }
        for i in range {
            let n = set.note(i)
            let k = key(i)
            let weightKey = String(log2(n.weight) + offset)
            RESPClient.encode(["HSET", k, "body", n.body, "key", weightKey, "deposits", "1", "state", "live",
                               "tags", n.tag, "created_at", String(now), "updated_at", String(now)], into: &out)
            RESPClient.encode(["ZADD", "weight", weightKey, k], into: &out)
            RESPClient.encode(["SADD", "tag:" + n.tag, k], into: &out)
            count += 3
            if !n.trails.isEmpty {
                var zadd = ["ZADD", "out:" + k]
                for t in n.trails { zadd += [String(log2(t.weight) + offset), key(t.to)] }
                RESPClient.encode(zadd, into: &out)
                count += 1
            }
            if count >= 20_000 {
                try client.send(encoded: out, count: count)
                out.removeAll(keepingCapacity: true)
                count = 0
            }
        }
        if count > 0 { try client.send(encoded: out, count: count) }
    }

    // MARK: W7

    /// Calls the `evaporate` function until no faded note is left; each call
    /// removes up to `batch` notes in one atomic step (one fsync). Returns
    /// (seconds, notes removed).
    func evaporate(batch: Int) throws -> (seconds: Double, notes: Int) {
        let start = monoNanos()
        var total = 0
        while true {
            let n = try client.call(["FCALL", "evaporate", "0", String(batch)]).int ?? 0
            total += n
            if n < batch { break }
        }
        return (Double(monoNanos() - start) / 1e9, total)
    }

    // MARK: redis-benchmark

    /// One redis-benchmark run: `clients` connections, `pipeline` in flight
    /// each, `requests` in all, `__rand_int__` drawn from [0, `range`).
    func benchmark(_ tool: String, command: [String], clients: Int, pipeline: Int, requests: Int,
                   range: Int?) throws -> RedisBenchmarkResult {
        var args = ["-s", socket, "-c", String(clients), "-P", String(pipeline), "-n", String(requests)]
        if let range { args += ["-r", String(range)] }
        args += command
        let errorsBefore = try errorReplies()
        let text = try ChildProcess.output(tool, args)
        // redis-benchmark counts an error reply as a request like any other: refuse the run instead.
        if try errorReplies() > errorsBefore {
            let stats = (try? client.call(["INFO", "errorstats"]))?.string ?? ""
            throw BenchFailure("Redis answered some of `\(command.prefix(3).joined(separator: " "))` with errors:\n\(stats)")
        }
        return try RedisBenchmarkResult(parsing: text, requests: requests)
    }

    /// How many error replies Redis has sent since it started.
    private func errorReplies() throws -> Int {
        guard case let .bulk(info?) = try client.call(["INFO", "stats"]) else { return 0 }
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_error_replies:") }
        return line.flatMap { Int($0.dropFirst("total_error_replies:".count)) } ?? 0
    }

    /// A run long enough to measure: a short probe gives the rate, then a
    /// run of about `seconds` (the probe itself when it already took that long).
    func timedBenchmark(_ tool: String, command: [String], clients: Int, pipeline: Int, seconds: Double,
                        range: Int?, minimum: Int = 100) throws -> RedisBenchmarkResult {
        let probeCount = max(minimum, clients * pipeline * 4)
        let probe = try benchmark(tool, command: command, clients: clients, pipeline: pipeline, requests: probeCount, range: range)
        let probeSeconds = Double(probeCount) / max(probe.perSecond, 1)
        if probeSeconds >= seconds * 0.7 { return probe }
        let n = max(probeCount, Int(probe.perSecond * seconds))
        return try benchmark(tool, command: command, clients: clients, pipeline: pipeline, requests: n, range: range)
    }

    /// The function library (Redis 7 functions, Lua). Keys other than
    /// KEYS[1] are not declared: fine on one server, which is the setting.
    static let library = #"""
    #!lua name=trail
    -- Forward decay as traild stores it: key = log2(w) + (t - L)/h, with the
    -- landmark L at the epoch and h traild's default half-life; the weight
    -- now is 2^(key - t/h). FADE + offset is the key of evaporate_below (0.05).
    -- (Only the redis API exists while a library loads, so the constants are
    -- literals: ln 2 and log2(0.05).)
    local H = 604800
    local LN2 = 0.6931471805599453
    local FADE = -4.321928094887363

    local function offset()
      local t = redis.call('TIME')
      return (tonumber(t[1]) + tonumber(t[2]) / 1e6) / H
    end

    local function log2(x) return math.log(x) / LN2 end

    -- deposit(note, body, strength): a new note, or the decayed weight plus strength.
    local function deposit(note, body, strength, u)
      local old = redis.call('HGET', note, 'key')
      local key, deposits
      if old then
        key = log2(2 ^ (tonumber(old) - u) + strength) + u
        deposits = redis.call('HINCRBY', note, 'deposits', 1)
        redis.call('HSET', note, 'key', key, 'updated_at', u * H)
      else
        key = log2(strength) + u
        deposits = 1
        redis.call('HSET', note, 'body', body, 'key', key, 'deposits', 1, 'state', 'live',
                   'created_at', u * H, 'updated_at', u * H)
      end
      redis.call('ZADD', 'weight', key, note)
      return {note, tostring(2 ^ (key - u)), deposits}
    end

    local function reinforce(note, delta, u)
      local old = redis.call('HGET', note, 'key')
      if not old then return redis.error_reply('unknown_note ' .. note) end
      local w = math.max(0, 2 ^ (tonumber(old) - u) + delta)
      local key = -1e300
      if w > 0 then key = log2(w) + u end
      redis.call('HSET', note, 'key', key, 'updated_at', u * H)
      redis.call('ZADD', 'weight', key, note)
      return tostring(w)
    end

    -- The top `limit` live notes by weight now, each its whole hash plus its weight.
    local function sense(limit, u)
      local top = redis.call('ZREVRANGEBYSCORE', 'weight', '+inf', FADE + u, 'WITHSCORES', 'LIMIT', 0, limit)
      local out = {}
      for i = 1, #top, 2 do
        local h = redis.call('HGETALL', top[i])
        h[#h + 1] = 'weight'
        h[#h + 1] = tostring(2 ^ (tonumber(top[i + 1]) - u))
        out[#out + 1] = h
      end
      return out
    end

    redis.register_function('deposit', function(keys, args)
      return deposit(keys[1], args[1], tonumber(args[2]) or 1, offset())
    end)

    redis.register_function('reinforce', function(keys, args)
      return reinforce(keys[1], tonumber(args[1]) or 1, offset())
    end)

    -- W2: redis-benchmark draws only uniform numbers, so KEYS[1] carries one
    -- (__rand_int__ from [0, 1e9)) and becomes the rank floor((n+1)^u) - 1 of
    -- the n-note hot set hot:<12 digits>: the Zipf law trail-bench uses.
    redis.register_function('reinforce_zipf', function(keys, args)
      local n = tonumber(args[1])
      local u = tonumber(string.sub(keys[1], -12)) / 1e9
      local rank = math.min(n - 1, math.max(0, math.floor((n + 1) ^ u) - 1))
      return reinforce(string.format('hot:%012d', rank), tonumber(args[2]) or 1, offset())
    end)

    redis.register_function{function_name = 'sense', flags = {'no-writes'}, callback = function(keys, args)
      return sense(tonumber(args[1]) or 10, offset())
    end}

    -- The `limit` strongest trails out of KEYS[1] (out:<note>), each with the note it leads to.
    redis.register_function{function_name = 'follow', flags = {'no-writes'}, callback = function(keys, args)
      local u = offset()
      local trails = redis.call('ZREVRANGE', keys[1], 0, (tonumber(args[1]) or 10) - 1, 'WITHSCORES')
      local out = {}
      for i = 1, #trails, 2 do
        local h = redis.call('HGETALL', trails[i])
        h[#h + 1] = 'trail_weight'
        h[#h + 1] = tostring(2 ^ (tonumber(trails[i + 1]) - u))
        out[#out + 1] = h
      end
      return out
    end}

    -- W6: KEYS[1] is note:<__rand_int__>; when its last digit is 0 (one time
    -- in ten) it is deposited, otherwise the top 10 are sensed. So every
    -- client sends a 90/10 mix, as trail-bench's clients do.
    redis.register_function('mix', function(keys, args)
      local u = offset()
      if string.sub(keys[1], -1) == '0' then
        return deposit(keys[1], args[1], tonumber(args[2]) or 1, u)
      end
      return sense(10, u)
    end)

    -- W7: remove up to args[1] faded notes (weight under 0.05) with their
    -- trails and tag entries; returns how many. Redis has no archive: the
    -- notes are gone, where traild keeps them in compressed packs.
    redis.register_function('evaporate', function(keys, args)
      local u = offset()
      local ids = redis.call('ZRANGEBYSCORE', 'weight', '-inf', '(' .. (FADE + u), 'LIMIT', 0, tonumber(args[1]))
      for _, id in ipairs(ids) do
        local tags = redis.call('HGET', id, 'tags')
        if tags then redis.call('SREM', 'tag:' .. tags, id) end
        redis.call('DEL', id, 'out:' .. id)
      end
      if #ids > 0 then redis.call('ZREM', 'weight', unpack(ids)) end
      return #ids
    end)
    """#
}

/// What redis-benchmark printed: throughput and the latency distribution.
struct RedisBenchmarkResult: Sendable {
    var perSecond: Double
    var requests: Int
    /// Milliseconds, from the "Latency by percentile distribution" lines.
    var p50: Double
    var p99: Double
    var p999: Double

    init(parsing text: String, requests: Int) throws {
        self.requests = requests
        // The progress lines end in \r, not \n; split on both.
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let summary = lines.first(where: { $0.hasPrefix("throughput summary:") }),
              let rate = Double(summary.split(separator: " ").dropFirst(2).first ?? "") else {
            throw BenchFailure("redis-benchmark printed no throughput summary:\n\(text.suffix(800))")
        }
        perSecond = rate
        // "99.902% <= 12.583 milliseconds (cumulative count 99904)"
        var points: [(Double, Double)] = []
        var inDistribution = false
        for line in lines {
            if line.hasPrefix("Latency by percentile distribution") { inDistribution = true; continue }
            if line.hasPrefix("Cumulative distribution") { inDistribution = false; continue }
            guard inDistribution else { continue }
            let parts = line.split(separator: " ")
            guard parts.count >= 3, parts[0].hasSuffix("%"), let pct = Double(parts[0].dropLast()), let ms = Double(parts[2]) else { continue }
            points.append((pct, ms))
        }
        guard !points.isEmpty else { throw BenchFailure("redis-benchmark printed no latency distribution:\n\(text.suffix(800))") }
        func at(_ p: Double) -> Double { points.first { $0.0 >= p }?.1 ?? points.last!.1 }
        p50 = at(50)
        p99 = at(99)
        p999 = at(99.9)
    }
}
