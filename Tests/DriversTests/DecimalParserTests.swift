@testable import Drivers
import Foundation
import Testing

@Suite struct DecimalParserTests {
    func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { DecimalParser.parse($0, 0, $0.count) }
    }

    @Test(arguments: ["0", "12", "-0.5", "+3", "1.6703488E7", "2925.999494", "210.67196356800002", "1e-5", "7.2e+3", "0.1", "123456789012345678901234", "4.9e-324", "1.7976931348623157e308", ".5", "5."])
    func agreesWithStrtod(text: String) {
        #expect(parse(text) == strtod(text, nil))
    }

    @Test(arguments: ["", "-", "e5", "1e", "1e+", "abc", "1,5", "0x10", "nan", "inf", "1 2", "--1", "1.2.3"])
    func rejectsWhatIsNotADecimalNumber(text: String) {
        #expect(parse(text) == nil)
    }

    @Test func agreesWithStrtodOnRandomDecimals() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let digits = String(UInt64.random(in: 0...UInt64.max, using: &generator)).prefix(Int.random(in: 1...20, using: &generator))
            let point = Int.random(in: 0...digits.count, using: &generator)
            var text = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
            if Bool.random(using: &generator) { text += "E" + String(Int.random(in: -30...30, using: &generator)) }
            #expect(parse(text) == strtod(text, nil), "\(text)")
        }
    }
}
