/// The median of an ascending, non-empty array: its middle element, or the mean of the two.
func medianOfSorted(_ sorted: [Double]) -> Double {
    precondition(!sorted.isEmpty)
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The first index of an ascending array whose element is not less than `value`.
@inline(__always)
func firstIndex(notBelow value: Double, in sorted: [Double]) -> Int {
    var low = 0, high = sorted.count
    while low < high {
        let middle = (low + high) / 2
        if sorted[middle] < value { low = middle + 1 } else { high = middle }
    }
    return low
}

/// The `q`-quantile (0...1) of `values` by the "lower" rule: the element at rank
/// `floor(q * (n - 1))`, found in place by quickselect (the order of `values` changes).
func selectQuantile(_ values: inout [Double], _ q: Double) -> Double {
    precondition(!values.isEmpty)
    return selectRank(&values, Int((q * Double(values.count - 1)).rounded(.down)))
}

/// The element that would be at index `rank` (clamped to the array) if `values` were sorted,
/// found in place by quickselect (the order of `values` changes).
func selectRank(_ values: inout [Double], _ rank: Int) -> Double {
    precondition(!values.isEmpty)
    let rank = min(values.count - 1, max(0, rank))
    var low = 0
    var high = values.count - 1
    while low < high {
        let pivot = values[(low + high) / 2]
        var i = low
        var j = high
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if rank <= j { high = j } else if rank >= i { low = i } else { break }
    }
    return values[rank]
}
