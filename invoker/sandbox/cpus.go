//go:build linux

package sandbox

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// MBPerVCPU is the memory that buys one vCPU: Lambda allocates CPU in
// proportion to memory, the equivalent of one vCPU at 1,769 MB.
const MBPerVCPU = 1769

// cpuMask is a sched_setaffinity mask for up to 1,024 CPUs.
type cpuMask [16]uint64

func (m *cpuMask) count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}

// cpus lists the CPUs set in m.
func (m *cpuMask) cpus() []int {
	var out []int
	for i, w := range m {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out
}

func (m *cpuMask) set(cpu int) { m[cpu/64] |= 1 << (cpu % 64) }

func getAffinity(m *cpuMask) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m)))
	if e != 0 {
		return e
	}
	return nil
}

func setAffinity(m *cpuMask) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m)))
	if e != 0 {
		return e
	}
	return nil
}

// cpuAllocator hands out CPUs to environments round-robin: an environment
// of memoryMB gets ceil(memoryMB / MBPerVCPU) of the CPUs the engine may
// use (at least one, at most all). Its processes see only those (Go
// sizes GOMAXPROCS from them), as a function sees its vCPUs on Lambda.
type cpuAllocator struct {
	allowed []int // the engine's CPUs
	next    atomic.Uint64
}

// newCPUAllocator returns nil when the engine's CPUs cannot be read or
// there is only one.
func newCPUAllocator() *cpuAllocator {
	var m cpuMask
	if err := getAffinity(&m); err != nil || m.count() < 2 {
		return nil
	}
	return &cpuAllocator{allowed: m.cpus()}
}

// maskFor returns the CPUs for an environment of memoryMB.
func (a *cpuAllocator) maskFor(memoryMB int) (cpuMask, int) {
	n := max(1, (memoryMB+MBPerVCPU-1)/MBPerVCPU)
	n = min(n, len(a.allowed))
	first := int(a.next.Add(uint64(n)) - uint64(n))
	var m cpuMask
	for i := range n {
		m.set(a.allowed[(first+i)%len(a.allowed)])
	}
	return m, n
}

// startOn runs start on an OS thread whose affinity is mask, so that the
// process it forks inherits the mask (from its first instruction: no
// window in which the runtime of the function could see every CPU), and
// restores the thread's affinity afterwards.
func startOn(mask cpuMask, start func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old cpuMask
	if err := getAffinity(&old); err != nil {
		return start()
	}
	if err := setAffinity(&mask); err != nil {
		return start() // best effort: the function sees every CPU
	}
	startErr := start()
	if err := setAffinity(&old); err != nil {
		// The thread keeps the narrow mask: never hand it back to the
		// scheduler (LockOSThread without Unlock ends it with the goroutine).
		runtime.LockOSThread()
		return fmt.Errorf("sandbox: restore thread affinity: %w (start: %v)", err, startErr)
	}
	return startErr
}
