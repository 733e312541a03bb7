import PoolCore

/// A problem or solution file that cannot be used as given, naming the field.
public typealias SwapProblemError = FieldError

typealias JSONReader = JSONPullReader
