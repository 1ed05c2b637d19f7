import TrailCore
import TrailProtocol

/// What happened to a note, as `trail.event` names it. Open-ended: a daemon
/// newer than this client may send kinds it does not know.
public struct TrailEventKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let deposited = TrailEventKind(rawValue: "deposited")
    public static let reinforced = TrailEventKind(rawValue: "reinforced")
    public static let linked = TrailEventKind(rawValue: "linked")
    public static let retracted = TrailEventKind(rawValue: "retracted")
    public static let evaporated = TrailEventKind(rawValue: "evaporated")
    public static let revived = TrailEventKind(rawValue: "revived")

    public var description: String { rawValue }
}

/// One `trail.event` notification of a subscription.
public struct TrailEvent: Sendable {
    public var subscription: String
    public var kind: TrailEventKind
    /// The note the event is about (for `linked`, the trail's `to` end).
    public var note: Note
    /// For `linked`: the trail and its new weight.
    public var trail: Trail?
    /// Events of this subscription the daemon dropped just before this one
    /// because the connection did not read them in time (0: none).
    public var dropped: Int
    /// The write-log row of the event's write: a note's events come in its
    /// order (nil from a daemon that does not send it).
    public var seq: Int64?
    /// The notification's `params` exactly as received, for printing as JSON.
    public var params: JSONObject

    /// Reads the `params` of a `trail.event` notification.
    public init(params: JSONObject) throws(WireDecodingError) {
        let o = try WireObject(.object(params), path: "params")
        subscription = try o.string("subscription")
        kind = TrailEventKind(rawValue: try o.string("event"))
        note = try WireDecode.note(o.object("note"))
        trail = try o.optionalObject("trail").map { t throws(WireDecodingError) in try Trail(t) }
        dropped = try o.optionalInt("dropped") ?? 0
        seq = try o.optionalInt("seq").map(Int64.init)
        self.params = params
    }
}

/// A `trail.gap` notification: writes made through other daemons, the
/// write-log seqs `first` to `last`, that the daemon could not replay to
/// the subscription after its connection to the database was down (more
/// than its `watch_catch_up_rows`). Re-read with `sense`; the watch goes on.
public struct TrailGap: Sendable, Equatable {
    public var subscription: String
    public var first: Int64
    public var last: Int64
    /// The notification's `params` exactly as received, for printing as JSON.
    public var params: JSONObject

    /// Reads the `params` of a `trail.gap` notification.
    public init(params: JSONObject) throws(WireDecodingError) {
        let o = try WireObject(.object(params), path: "params")
        subscription = try o.string("subscription")
        first = Int64(try o.int("from"))
        last = Int64(try o.int("to"))
        self.params = params
    }
}

/// What a watch yields: an event, or a gap in the events.
public enum TrailWatchItem: Sendable {
    case event(TrailEvent)
    /// Writes the daemon could not send this subscription: re-read with `sense`.
    case missed(TrailGap)

    /// The event, or nil for a gap.
    public var event: TrailEvent? {
        if case let .event(e) = self { e } else { nil }
    }
}

/// The events of one `trail.watch` subscription, in the order the daemon sent
/// them, and the gaps among them (`TrailWatchItem`). The sequence ends (throwing `connectionClosed`) when the connection
/// closes; a consumer that stops iterating ends the subscription, and the
/// client sends `trail.unwatch` for it. Events are buffered without bound
/// while nobody iterates, so iterate promptly.
public struct TrailEventStream: AsyncSequence, Sendable {
    public typealias Element = TrailWatchItem
    public typealias Failure = TrailClientError

    /// The daemon's name of the subscription.
    public let subscription: String
    let base: AsyncThrowingStream<TrailWatchItem, any Error>

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<TrailWatchItem, any Error>.AsyncIterator

        /// The next event or gap; nil never comes before the connection ends, which throws.
        public mutating func next() async throws(TrailClientError) -> TrailWatchItem? {
            do {
                return try await base.next()
            } catch let error as TrailClientError {
                throw error
            } catch {
                throw .connectionClosed
            }
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(TrailClientError) -> TrailWatchItem? {
            do {
                return try await base.next(isolation: actor)
            } catch let error as TrailClientError {
                throw error
            } catch {
                throw .connectionClosed
            }
        }
    }
}
