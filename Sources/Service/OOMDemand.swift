/// Memory demand of a slot in which the kernel OOM-killed: usage above the limit is never
/// seen, only the kill, so it reads as the limit and more (the VPA's OOM bump: 20% or 100 MiB
/// above the limit, whichever is more) and the forecast grows it instead of learning the limit.
enum OOMDemand {
    static func memory(_ used: Double, oomKills: Int, limit: Double?) -> Double {
        guard oomKills > 0, let limit, limit.isFinite else { return used }
        return max(used, limit * 1.2, limit + 100.0 / 1024)
    }
}
