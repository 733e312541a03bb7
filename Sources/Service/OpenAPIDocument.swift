import Foundation

/// The OpenAPI 3.1 document of the API: `openapi.json` at the repository root,
/// read at start (from the working directory or beside these sources).
enum OpenAPIDocument {
    static let text: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for path in ["openapi.json", root.appendingPathComponent("openapi.json").path] {
            if let data = FileManager.default.contents(atPath: path) { return String(decoding: data, as: UTF8.self) }
        }
        return #"{"openapi":"3.1.0","info":{"title":"Poolswap","version":"1"},"paths":{}}"#
    }()
}
