import Foundation
import Testing
@testable import TrailEmbedding

/// Shape, element count, sum and first values of `names`, read by NumPy
/// from the same file: the independent reference.
func numpyReading(_ path: String, _ names: [String]) throws -> [[String: [Double]]] {
    let script = """
        import json, struct, sys
        import numpy as np
        path = sys.argv[1]
        with open(path, 'rb') as f:
            n = struct.unpack('<Q', f.read(8))[0]
            header = json.loads(f.read(n))
            base = 8 + n
            out = []
            for name in json.loads(sys.argv[2]):
                e = header[name]
                f.seek(base + e['data_offsets'][0])
                a = np.frombuffer(f.read(e['data_offsets'][1] - e['data_offsets'][0]), dtype='<f4')
                out.append({'shape': e['shape'], 'sum': [float(a.astype(np.float64).sum())], 'first': [float(x) for x in a[:5]]})
        print(json.dumps(out))
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, path, String(decoding: try JSONEncoder().encode(names), as: UTF8.self)]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw SafeTensorsError.unreadable(path, "numpy reference failed") }
    return try JSONDecoder().decode([[String: [Double]]].self, from: data)
}

@Suite("safetensors")
struct SafeTensorsTests {
    static let names = ["embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight",
                        "encoder.layer.0.attention.self.query.weight", "encoder.layer.5.output.dense.bias"]

    @Test("the model's tensors read as NumPy reads them")
    func matchesNumPy() throws {
        let path = modelDirectory() + "/model.safetensors"
        let file = try SafeTensors(path: path)
        #expect(file.entries.count == 104)
        let reference = try numpyReading(path, Self.names)
        for (name, want) in zip(Self.names, reference) {
            let (shape, values) = try file.floats(name)
            #expect(shape.map(Double.init) == want["shape"], "\(name)")
            #expect(values.count == shape.reduce(1, *))
            #expect(values.prefix(5).map(Double.init) == want["first"], "\(name)")
            let sum = values.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - want["sum"]![0]) <= 1e-6 * max(1, abs(sum)), "\(name)")
        }
    }

    @Test("damaged files are refused naming the file and what is wrong; a missing or non-F32 tensor too")
    func damaged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func file(_ bytes: [UInt8]) throws -> String {
            let path = dir.appendingPathComponent("\(UUID()).safetensors").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        func withHeader(_ json: String, data: [UInt8] = []) -> [UInt8] {
            let h = Array(json.utf8)
            return withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + data
        }
        let cases: [[UInt8]] = [
            [1, 2, 3],
            withUnsafeBytes(of: UInt64(1_000).littleEndian, Array.init) + [1, 2],
            withHeader("not json"),
            withHeader(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, data: [0, 0, 0]),
            withHeader(#"{"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8)),
            withHeader(#"{"t": {"dtype": "F32", "shape": [2]}}"#, data: [UInt8](repeating: 0, count: 8)),
        ]
        for bytes in cases {
            let path = try file(bytes)
            #expect {
                _ = try SafeTensors(path: path)
            } throws: { error in
                guard case let .damaged(named, _)? = error as? SafeTensorsError else { return false }
                return named == path
            }
        }
        #expect(throws: SafeTensorsError.self) { try SafeTensors(path: dir.appendingPathComponent("absent").path) }
        let good = try SafeTensors(path: try file(withHeader(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "i": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}"#,
                                                            data: [0, 0, 128, 63, 0, 0, 0, 64] + [UInt8](repeating: 0, count: 8))))
        #expect(try good.floats("t").values == [1, 2])
        #expect(throws: SafeTensorsError.self) { try good.floats("i") }
        #expect(throws: SafeTensorsError.self) { try good.floats("nothing") }
    }
}
