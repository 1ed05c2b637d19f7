import TrailCore

/// A note's embedding as the store keeps it, for loading the in-memory index.
public struct StoredVector: Sendable {
    public var ns: String
    /// The engine's handle of the note (`NoteRow.seq`).
    public var handle: Int64
    public var id: NoteID
    /// The order the store stored it in: storing a note's vector again moves it to the end.
    public var stamp: Int64
    public var vector: [Float]
    public init(ns: String, handle: Int64, id: NoteID, stamp: Int64, vector: [Float]) {
        self.ns = ns
        self.handle = handle
        self.id = id
        self.stamp = stamp
        self.vector = vector
    }
}

/// A live note that has no vector of the model yet: what the indexer embeds.
public struct UnembeddedNote: Sendable {
    public var ns: String
    public var handle: Int64
    public var id: NoteID
    public var body: String
    public init(ns: String, handle: Int64, id: NoteID, body: String) {
        self.ns = ns
        self.handle = handle
        self.id = id
        self.body = body
    }
}

/// A vector to store for a note, named by its handle.
public struct VectorWrite: Sendable {
    public var handle: Int64
    public var vector: [Float]
    public init(handle: Int64, vector: [Float]) {
        self.handle = handle
        self.vector = vector
    }
}

/// A live note (faded ones included) with its handle and, when stored, its vector.
public struct MeaningRow: Sendable {
    public var handle: Int64
    public var note: Note
    public var vector: [Float]?
    public init(handle: Int64, note: Note, vector: [Float]?) {
        self.handle = handle
        self.note = note
        self.vector = vector
    }
}

/// Which notes of a namespace `meaningRows` reads.
public enum NoteKeys: Sendable {
    case handles([Int64])
    case ids([NoteID])
}

/// Vectors as the stores keep them: little-endian IEEE `Float`s, 4 bytes each.
public enum VectorBytes {
    public static func encode(_ vector: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: vector.count * 4)
        out.withUnsafeMutableBytes { raw in
            vector.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        return out
    }

    /// The floats of `bytes` (one copy); nil when its length is not whole
    /// floats (a damaged row).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> [Float]? {
        guard bytes.count % 4 == 0 else { return nil }
        return [Float](unsafeUninitializedCapacity: bytes.count / 4) { out, count in
            UnsafeMutableRawBufferPointer(out).copyMemory(from: bytes)
            count = bytes.count / 4
        }
    }
}
