import Foundation
import PoolCore
import Testing
@testable import SwapSolver

@Suite("JSON reader")
struct JSONReaderTests {
    func read<T>(_ text: String, _ body: (JSONReader) throws(SwapProblemError) -> T) throws(SwapProblemError) -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(SwapProblemError) in try body(JSONReader(buffer)) }
    }

    @Test func numbersReadExactlyAsTheStandardLibraryParsesThem() throws {
        var rng = SplitMix64(seed: 11)
        var texts = ["0", "-0", "1e22", "1e23", "123456789012345678901234", "0.000001", "2.2250738585072014e-308",
                     "9007199254740993", "17.976931348623157e307", "3.14159265358979323846", "1E+2", "-4.5e-3"]
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...20, using: &rng)
            var text = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
            if Bool.random(using: &rng) { text.insert(".", at: text.index(text.startIndex, offsetBy: Int.random(in: 0..<digits, using: &rng))); if text.first == "." { text = "0" + text } }
            if Int.random(in: 0..<4, using: &rng) == 0 { text += "e\(Int.random(in: -30...30, using: &rng))" }
            texts.append(text)
        }
        for text in texts {
            let value = try read(text) { reader throws(SwapProblemError) in try reader.number("x") }
            #expect(value.bitPattern == Double(text)!.bitPattern, "\(text): \(value) vs \(Double(text)!)")
        }
    }

    @Test func stringsUnescape() throws {
        let text = try read(#""a\"b\\c\n\u00e9""#) { reader throws(SwapProblemError) in try reader.string("x") }
        #expect(text == "a\"b\\c\né")
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        #expect(throws: SwapProblemError.self) {
            try read("{\n  \"a\": [1, 2,,]\n}") { reader throws(SwapProblemError) in try reader.skipValue() }
        }
        do {
            try read("{\n  \"a\": [1, 2,,]\n}") { reader throws(SwapProblemError) in try reader.skipValue() }
        } catch {
            #expect(error.message.contains("line 2, column 14"), "\(error)")
        }
    }
}
