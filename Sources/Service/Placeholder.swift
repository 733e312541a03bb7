import Hummingbird
import Prometheus
import CCrypto
