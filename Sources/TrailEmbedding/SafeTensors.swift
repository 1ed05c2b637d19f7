import Foundation

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, then the data.
/// The file is memory-mapped; `floats` copies one tensor out as `Float`s,
/// once, when the model loads.
public struct SafeTensors: @unchecked Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable, Equatable {
        public var dtype: String
        public var shape: [Int]
        /// Byte range in the data section (after the header).
        public var begin: Int
        public var end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Maps and checks the file: the header parses, and every tensor's range
    /// lies inside the file and holds `shape`'s elements of its dtype.
    public init(path: String) throws(SafeTensorsError) {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw .unreadable(path, "\(error.localizedDescription)")
        }
        guard data.count >= 8 else { throw .damaged(path, "shorter than its 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw .damaged(path, "its header length \(headerLength) runs past the end of the file")
        }
        let start = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)) as? [String: Any] else {
            throw .damaged(path, "its header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let o = value as? [String: Any], let dtype = o["dtype"] as? String, let shape = o["shape"] as? [Int],
                  let offsets = o["data_offsets"] as? [Int], offsets.count == 2 else {
                throw .damaged(path, "tensor \(name) lacks a dtype, shape or data_offsets")
            }
            let entry = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
            guard entry.begin >= 0, entry.begin <= entry.end, start + entry.end <= data.count else {
                throw .damaged(path, "tensor \(name) lies outside the file")
            }
            if let width = Self.width[dtype], shape.reduce(1, *) * width != entry.end - entry.begin {
                throw .damaged(path, "tensor \(name) has \(entry.end - entry.begin) bytes for shape \(shape) of \(dtype)")
            }
            entries[name] = entry
        }
        self.entries = entries
        self.data = data
        dataStart = start
    }

    private static let width = ["F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "F64": 8]

    /// The `F32` tensor `name`, row-major, with its shape.
    public func floats(_ name: String) throws(SafeTensorsError) -> (shape: [Int], values: [Float]) {
        guard let entry = entries[name] else { throw .missing(path, name) }
        guard entry.dtype == "F32" else { throw .damaged(path, "tensor \(name) is \(entry.dtype), not F32") }
        let count = (entry.end - entry.begin) / 4
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { out in
            data.withUnsafeBytes { raw in
                // Little-endian IEEE floats, as this machine's.
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]))
            }
        }
        return (entry.shape, values)
    }
}

/// A model file that cannot be used, naming it.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case damaged(String, String)
    case missing(String, String)

    public var description: String {
        switch self {
        case let .unreadable(path, why): "cannot read \(path) (\(why)); fetch the model again (make model)"
        case let .damaged(path, why): "\(path) is damaged: \(why); fetch the model again (make model)"
        case let .missing(path, name): "\(path) has no tensor \(name); it is not all-MiniLM-L6-v2, fetch the model again (make model)"
        }
    }
}
