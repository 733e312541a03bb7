import Foundation

/// A one-line progress bar on standard error.
final class ProgressBar {
    let label: String
    let enabled: Bool
    private var shown = -1

    init(label: String, enabled: Bool = true) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: Int, of total: Int) { update(total > 0 ? Double(done) / Double(total) : 1) }

    func update(_ fraction: Double) {
        guard enabled else { return }
        let percent = Int(fraction * 100)
        guard percent != shown else { return }
        shown = percent
        let filled = percent / 5
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%".utf8))
    }

    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }
}
