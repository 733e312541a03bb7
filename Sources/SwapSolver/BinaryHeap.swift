/// A binary min-heap on `key`, for the migration search's queue of moves.
struct BinaryHeap<Element> {
    private var items: [(key: Double, element: Element)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var minimum: (key: Double, element: Element)? { items.first }

    mutating func insert(_ element: Element, key: Double) {
        items.append((key, element))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].key < items[parent].key else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMinimum() -> (key: Double, element: Element)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].key < items[smallest].key { smallest = left }
            if right < items.count, items[right].key < items[smallest].key { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
