//! The Prometheus/OpenMetrics endpoint: `GET /metrics` on a management address (default
//! `127.0.0.1:9464`, `--metrics ADDR`, `--metrics off` to disable) answers the workers'
//! aggregated counters from the stats reader (the same numbers the shell shows), encoded
//! with the `prometheus-client` crate: per port, per tenant, per drop reason, per priority
//! class, per shaper. A small thread of its own serves one request at a time (scrapes are
//! rare); it never touches the workers, only the collector's aggregate.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use switch::pipeline::DropReason;
use switch::stats::{StatsReader, WorkerCounters, CLASS_NAMES};

/// Content type of the OpenMetrics text format the encoder writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

/// The running endpoint; stops its thread when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Names the counters are labelled with.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub ports: Vec<String>,
    pub tenants: Vec<String>,
}

/// Binds `addr` and serves `/metrics` until dropped.
pub fn start(addr: &str, reader: StatsReader, names: Names) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new().name("metrics".into()).spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = serve(stream, &reader, &names);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    })?;
    Ok(MetricsServer { addr: local, stop, thread: Some(thread) })
}

/// One HTTP/1.x exchange: `GET /metrics` gets the exposition, anything else 404.
fn serve(mut stream: TcpStream, reader: &StatsReader, names: &Names) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut req = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, ctype, body) = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
        ("200 OK", CONTENT_TYPE, render(&reader.totals(), names))
    } else {
        ("404 Not Found", "text/plain", "try /metrics\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn family() -> Family<Labels, Counter> {
    Family::default()
}

fn set(f: &Family<Labels, Counter>, labels: &[(&str, &str)], v: u64) {
    let l: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    f.get_or_create(&l).inc_by(v);
}

/// The exposition of `c` (every worker summed, since the last `clear counters`).
pub fn render(c: &WorkerCounters, names: &Names) -> String {
    // Tables as long as the topology's lists (a worker that has not published yet counted
    // nothing), so indexing by a port or tenant of `names` is in bounds.
    let mut sized = c.clone();
    sized.ensure(names.ports.len(), names.tenants.len());
    let c = &sized;
    let mut reg = Registry::with_prefix("vnswitch");
    let port = |name: &str, help: &str, reg: &mut Registry, get: &dyn Fn(usize) -> u64| {
        let f = family();
        for (i, p) in names.ports.iter().enumerate() {
            set(&f, &[("port", p)], get(i));
        }
        reg.register(name, help, f);
    };
    port("port_rx_packets", "Frames received on the port", &mut reg, &|i| c.ports[i].rx_packets);
    port("port_rx_bytes", "Bytes received on the port", &mut reg, &|i| c.ports[i].rx_bytes);
    port("port_tx_packets", "Frames the port's transmit ring accepted", &mut reg, &|i| c.ports[i].tx_packets);
    port("port_tx_bytes", "Bytes the port's transmit ring accepted", &mut reg, &|i| c.ports[i].tx_bytes);
    port(
        "port_tx_dropped",
        "Frames for the port dropped at egress (transmit ring refused, or class queue full)",
        &mut reg,
        &|i| c.ports[i].tx_dropped,
    );
    port("port_shape_conform_packets", "Frames within the port's traffic-shape rate", &mut reg, &|i| {
        c.port_shape[i].conform_packets
    });
    port(
        "port_shape_exceed_packets",
        "Frames over the port's traffic-shape rate (queued, or dropped when the queue was full)",
        &mut reg,
        &|i| c.port_shape[i].exceed_packets,
    );
    port("port_shape_drop_packets", "Frames over the port's traffic-shape rate dropped", &mut reg, &|i| {
        c.port_shape[i].drop_packets
    });
    let tenant = |name: &str, help: &str, reg: &mut Registry, get: &dyn Fn(usize) -> u64| {
        let f = family();
        for (i, t) in names.tenants.iter().enumerate() {
            set(&f, &[("tenant", t)], get(i));
        }
        reg.register(name, help, f);
    };
    tenant("tenant_rx_packets", "Frames that entered the tenant's network", &mut reg, &|i| {
        c.tenants[i].rx_packets
    });
    tenant("tenant_rx_bytes", "Bytes that entered the tenant's network", &mut reg, &|i| {
        c.tenants[i].rx_bytes
    });
    tenant("tenant_tx_packets", "Frames of the tenant queued for transmission", &mut reg, &|i| {
        c.tenants[i].tx_packets
    });
    tenant("tenant_tx_bytes", "Bytes of the tenant queued for transmission", &mut reg, &|i| {
        c.tenants[i].tx_bytes
    });
    tenant("tenant_shape_conform_packets", "Frames within the tenant's service-level rate", &mut reg, &|i| {
        c.tenant_shape[i].conform_packets
    });
    tenant(
        "tenant_shape_exceed_packets",
        "Frames over the tenant's service-level rate (queued, or dropped when the queue was full)",
        &mut reg,
        &|i| c.tenant_shape[i].exceed_packets,
    );
    tenant(
        "tenant_shape_drop_packets",
        "Frames over the tenant's service-level rate dropped",
        &mut reg,
        &|i| c.tenant_shape[i].drop_packets,
    );
    let drops = family();
    for r in DropReason::ALL {
        set(&drops, &[("reason", r.name())], c.drops[r.index()]);
    }
    reg.register("drops", "Frames dropped, by reason (show errors)", drops);
    let (ctx, ctxb, cdrop, cenq, cqdrop) = (family(), family(), family(), family(), family());
    let chigh: Family<Labels, Gauge> = Family::default();
    for (i, name) in CLASS_NAMES.iter().enumerate() {
        let k = &c.classes[i];
        set(&ctx, &[("class", name)], k.tx_packets);
        set(&ctxb, &[("class", name)], k.tx_bytes);
        set(&cdrop, &[("class", name)], k.tx_dropped);
        set(&cenq, &[("class", name)], k.enqueued);
        set(&cqdrop, &[("class", name)], k.queue_dropped);
        chigh.get_or_create(&vec![("class".to_string(), name.to_string())]).set(k.queue_high_water as i64);
    }
    reg.register("class_tx_packets", "Frames of the priority class transmitted", ctx);
    reg.register("class_tx_bytes", "Bytes of the priority class transmitted", ctxb);
    reg.register(
        "class_tx_dropped",
        "Frames of the priority class refused by a ring that said it had room",
        cdrop,
    );
    reg.register("class_enqueued", "Frames of the priority class that waited in a port's class queue", cenq);
    reg.register("class_queue_dropped", "Frames of the priority class dropped: class queue full", cqdrop);
    reg.register(
        "class_queue_high_water",
        "Deepest one port's queue of the priority class has been, in frames",
        chigh,
    );
    for (name, help, v) in [
        (
            "mgmt_punted",
            "In-band management packets (TCP 23/22, UDP 161 to a router address) punted",
            c.mgmt_punted,
        ),
        ("mgmt_injected", "Packets of the in-band management stacks routed by the workers", c.mgmt_injected),
    ] {
        let counter: Counter = Counter::default();
        counter.inc_by(v);
        reg.register(name, help, counter);
    }
    let redirected: Counter = Counter::default();
    redirected.inc_by(c.redirected);
    reg.register("redirected", "Frames an ip redirect sent to another host", redirected);
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out = "# EOF\n".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_labelled_counters_and_eof() {
        let mut c = WorkerCounters::default();
        c.ports[1].tx_packets = 42;
        c.tenants[0].rx_bytes = 1500;
        c.drops[DropReason::Shaped.index()] = 7;
        c.classes[2].tx_dropped = 3;
        c.classes[2].enqueued = 40;
        c.classes[2].queue_dropped = 9;
        c.classes[0].queue_high_water = 17;
        c.tenant_shape[0].drop_packets = 2;
        c.redirected = 5;
        c.mgmt_punted = 9;
        c.drops[DropReason::MgmtRateLimited.index()] = 4;
        let names = Names { ports: vec!["a".into(), "h".into()], tenants: vec!["z".into()] };
        let text = render(&c, &names);
        assert!(text.contains("# TYPE vnswitch_port_tx_packets counter\n"), "{text}");
        assert!(text.contains("vnswitch_port_tx_packets_total{port=\"h\"} 42\n"), "{text}");
        assert!(text.contains("vnswitch_port_tx_packets_total{port=\"a\"} 0\n"), "{text}");
        assert!(text.contains("vnswitch_tenant_rx_bytes_total{tenant=\"z\"} 1500\n"), "{text}");
        assert!(text.contains("vnswitch_drops_total{reason=\"shaped\"} 7\n"), "{text}");
        assert!(text.contains("vnswitch_class_tx_dropped_total{class=\"silver\"} 3\n"), "{text}");
        assert!(text.contains("vnswitch_class_enqueued_total{class=\"silver\"} 40\n"), "{text}");
        assert!(text.contains("vnswitch_class_queue_dropped_total{class=\"silver\"} 9\n"), "{text}");
        assert!(text.contains("# TYPE vnswitch_class_queue_high_water gauge\n"), "{text}");
        assert!(text.contains("vnswitch_class_queue_high_water{class=\"platinum\"} 17\n"), "{text}");
        assert!(text.contains("vnswitch_tenant_shape_drop_packets_total{tenant=\"z\"} 2\n"), "{text}");
        assert!(text.contains("vnswitch_redirected_total 5\n"), "{text}");
        assert!(text.contains("vnswitch_mgmt_punted_total 9\n"), "{text}");
        assert!(text.contains("vnswitch_drops_total{reason=\"mgmt_rate_limited\"} 4\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
