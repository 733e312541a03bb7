#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses decimal numbers (`12`, `-0.5`, `1.6703488E7`) straight from bytes, exactly:
/// the result is the double nearest the decimal value, as `strtod` gives.
enum DecimalParser {
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// The number in `bytes[start..<end]`, or nil when that text is not a plain decimal number
    /// (empty, stray characters, `nan`, `inf`, hexadecimal).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var index = start
        guard index < end else { return nil }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var digits = 0
        var decimalExponent = 0
        while index < end, bytes[index] &- 48 < 10 {
            if mantissa != 0 || bytes[index] != 48 { significantDigits += 1 }
            if significantDigits <= 19 { mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- 48) } else { decimalExponent += 1 }
            digits += 1
            index += 1
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < end, bytes[index] &- 48 < 10 {
                if mantissa != 0 || bytes[index] != 48 { significantDigits += 1 }
                if significantDigits <= 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[index] &- 48)
                    decimalExponent -= 1
                }
                digits += 1
                index += 1
            }
        }
        guard digits > 0 else { return nil }
        if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var exponentNegative = false
            if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var exponent = 0
            var exponentDigits = 0
            while index < end, bytes[index] &- 48 < 10 {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] &- 48) }
                exponentDigits += 1
                index += 1
            }
            guard exponentDigits > 0 else { return nil }
            decimalExponent += exponentNegative ? -exponent : exponent
        }
        guard index == end else { return nil }

        // Exact when the mantissa and the power of ten are both exact doubles: one rounding.
        if significantDigits <= 19, mantissa <= 1 << 53, abs(decimalExponent) <= 22 {
            var value = Double(mantissa)
            value = decimalExponent < 0 ? value / powersOfTen[-decimalExponent] : value * powersOfTen[decimalExponent]
            return negative ? -value : value
        }
        return slowParse(bytes, start, end)
    }

    /// The C library's correctly rounded conversion, for the rare long or extreme numbers.
    private static func slowParse(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let length = end - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { text in
            for offset in 0..<length { text[offset] = CChar(bitPattern: bytes[start + offset]) }
            text[length] = 0
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &stop)
            return stop == text.baseAddress! + length ? value : nil
        }
    }
}
