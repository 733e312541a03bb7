import Foundation

/// The 20-VM trace sample shipped with the repository (`Data/bitbrains-sample`).
public enum BundledSample {
    /// Found from the working directory, or else beside the sources this binary was built from.
    public static var folder: String {
        let relative = "Data/bitbrains-sample"
        if FileManager.default.fileExists(atPath: relative) { return relative }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(relative).path
    }
}
