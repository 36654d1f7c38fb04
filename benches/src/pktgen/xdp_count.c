/* pktgen's counting receiver: an XDP program for the receiving device of a forwarding benchmark.
 * Every pktgen-stamped frame (IPv4/UDP, payload magic 0xB7A5) is counted in per-CPU counters,
 * its one-way latency (bpf_ktime_get_ns = CLOCK_MONOTONIC, the clock pktgen stamps with) goes
 * into a per-CPU log-linear histogram, and the frame is dropped. Other frames (ARP, IPv6 ND)
 * are counted and passed. No AF_XDP reader, no copy to user space: the receiver costs one
 * short XDP run per frame on whatever core runs the device's NAPI (scripts/bench pins it).
 *
 * Build (scripts/bench does): clang -O2 -g -target bpf -c xdp_count.c -o xdp_count.o
 * Attach / read / detach: pktgen counter-attach | count | counter-detach (benches/src/pktgen/counter.rs).
 * No kernel headers needed: the few types and helper ids are declared here.
 *
 * counters[0] stamped frames, [1] their bytes (without FCS), [2] other frames,
 * [3] stamps from the future (tx time after now: clocks differ, counted in latency bucket 0).
 * latency[i]: values v with i = v for v < 16, else i = ((msb(v) - 3) << 4) | next 4 bits of v,
 * i.e. 16 buckets per power of two (6 % resolution); decoded by counter.rs `bucket_bounds`. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define INLINE static inline __attribute__((always_inline))

enum { BPF_MAP_TYPE_PERCPU_ARRAY = 6 };
enum { XDP_DROP = 1, XDP_PASS = 2 };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1; /* BPF_FUNC_map_lookup_elem */
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;                        /* BPF_FUNC_ktime_get_ns */

#define COUNTERS 4
#define BUCKETS 1024

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} latency SEC(".maps");

INLINE void add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		*v += n;
}

/* Index of the most significant set bit of v (v > 0). */
INLINE __u32 msb(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

INLINE __u32 bucket(__u64 v)
{
	if (v < 16)
		return (__u32)v;
	__u32 e = msb(v);
	return (((e - 3) << 4) | (__u32)((v >> (e - 4)) & 15)) & (BUCKETS - 1);
}

SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u8 *p = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	/* Ethernet 14 + IPv4 20 + UDP 8, then the stamp: magic u16, flow u32, seq u32, tx_ns u64 (BE). */
	if (p + 42 + 18 > end || p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 || p[23] != 17 ||
	    p[42] != 0xB7 || p[43] != 0xA5) {
		add(2, 1);
		return XDP_PASS;
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 tx = 0;
#pragma unroll
	for (int i = 0; i < 8; i++)
		tx = (tx << 8) | p[52 + i];
	add(0, 1);
	add(1, (__u64)(end - p));
	__u32 key = 0;
	if (now >= tx)
		key = bucket(now - tx);
	else
		add(3, 1);
	__u64 *slot = bpf_map_lookup_elem(&latency, &key);
	if (slot)
		*slot += 1;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
