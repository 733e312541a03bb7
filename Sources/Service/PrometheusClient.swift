import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Prometheus' HTTP API, the one call Poolswap makes: `GET /api/v1/query_range`.
public struct PrometheusClient: Sendable {
    public let base: URL
    public var token: String?
    public var timeout: TimeInterval = 10
    /// Prometheus answers at most 11,000 points per series; a longer range is asked in parts.
    public static let maxPoints = 10_000

    public init(base: URL, token: String? = nil, timeout: TimeInterval = 10) {
        self.base = base
        self.token = token
        self.timeout = timeout
    }

    /// One series of a range query: its labels and (time, value) points, oldest first.
    public struct Series: Sendable, Equatable {
        public var labels: [String: String]
        public var points: [(time: Int64, value: Double)]
        public static func == (a: Series, b: Series) -> Bool {
            a.labels == b.labels && a.points.count == b.points.count
                && zip(a.points, b.points).allSatisfy { $0.time == $1.time && ($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN)) }
        }
    }

    /// `query` evaluated every `step` seconds from `start` to `end` (epoch seconds, inclusive).
    public func queryRange(_ query: String, start: Int64, end: Int64, step: Int64) async throws -> [Series] {
        var series: [Series] = []
        var from = start
        while from <= end {
            let to = min(end, from + step * Int64(Self.maxPoints - 1))
            let part = try await queryPart(query, start: from, end: to, step: step)
            series = Self.merge(series, part)
            from = to + step
        }
        return series
    }

    private func queryPart(_ query: String, start: Int64, end: Int64, step: Int64) async throws -> [Series] {
        var components = URLComponents(url: base.appendingPathComponent("api/v1/query_range"), resolvingAgainstBaseURL: false)!
        components.queryItems = [.init(name: "query", value: query), .init(name: "start", value: "\(start)"),
                                 .init(name: "end", value: "\(end)"), .init(name: "step", value: "\(step)")]
        // URLComponents leaves `+` as is, which a form decoder reads as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = URLRequest(url: components.url!, timeoutInterval: timeout)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return try Self.decode(data, status: status, query: query)
    }

    /// The series of a `query_range` answer; Prometheus' own error when it gives one.
    public static func decode(_ data: Data, status: Int, query: String) throws -> [Series] {
        let answer: Answer
        do { answer = try JSONDecoder().decode(Answer.self, from: data) }
        catch {
            throw PrometheusError("query_range answered \(status) with a body that is not Prometheus' JSON (\(error)): \(String(decoding: data.prefix(300), as: UTF8.self)); query: \(query)")
        }
        guard answer.status == "success", let result = answer.data else {
            throw PrometheusError("query_range answered \(status): \(answer.errorType ?? "error"): \(answer.error ?? "no reason given"); query: \(query)")
        }
        guard result.resultType == "matrix" else {
            throw PrometheusError("query_range gave a \(result.resultType), not a matrix; query: \(query)")
        }
        return try result.result.map { item in
            Series(labels: item.metric, points: try item.values.map { point in
                guard let value = Double(point.value) else { throw PrometheusError("query_range gave the value \(point.value), not a number; query: \(query)") }
                return (time: Int64(point.time.rounded()), value: value)
            })
        }
    }

    /// Parts of one range query joined: the points of equal labels one after the other.
    static func merge(_ a: [Series], _ b: [Series]) -> [Series] {
        guard !a.isEmpty else { return b }
        var out = a
        var at: [[String: String]: Int] = [:]
        for (k, s) in out.enumerated() { at[s.labels] = k }
        for s in b {
            if let k = at[s.labels] { out[k].points += s.points } else { at[s.labels] = out.count; out.append(s) }
        }
        return out
    }

    private struct Answer: Decodable {
        var status: String
        var data: Result?
        var errorType: String?
        var error: String?
    }
    private struct Result: Decodable {
        var resultType: String
        var result: [Item]
    }
    private struct Item: Decodable {
        var metric: [String: String]
        var values: [Point]
    }
    /// `[1435781430.781, "1"]`: seconds as a number, the value as a string ("NaN", "+Inf" too).
    private struct Point: Decodable {
        var time: Double
        var value: String
        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            time = try c.decode(Double.self)
            value = try c.decode(String.self)
        }
    }
}

public struct PrometheusError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
