//go:build bench

package scenarios

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// conditions are what the whole machine did while one run ran: the candidates for the
// spread of the heavy scenarios (issue 16, deliverable 0). The machine is shared, so a run
// that took longer than its siblings can be checked against how busy the CPUs were with
// everything (this run's processes included), how much of that time the hypervisor gave
// to others (steal), how long the CPUs waited for the disk (iowait), and what the disks
// wrote (the registry stores every push there; Azurite and the runners do not touch it).
type conditions struct {
	Load1       float64 `json:"load1"`       // 1-minute load average at the start
	BusyPct     float64 `json:"busyPct"`     // user+system+irq of all CPUs, % of the run's CPU time
	IOWaitPct   float64 `json:"iowaitPct"`   // idle waiting for the disk, %
	StealPct    float64 `json:"stealPct"`    // taken by the hypervisor for other guests, %
	DiskWriteMB float64 `json:"diskWriteMB"` // written to block devices during the run
	DiskReadMB  float64 `json:"diskReadMB"`
	DirtyMB     float64 `json:"dirtyMB"` // page cache not yet written back, at the start
	// CPUWaitPct and IOWaitStallPct are Linux's pressure stall information over the run:
	// the share of the wall time in which some runnable task waited for a CPU, or some
	// task waited for I/O (/proc/pressure/{cpu,io} "some"). Busy says the CPUs worked;
	// CPU pressure says work queued behind other work, which is what stretches a run.
	CPUWaitPct     float64 `json:"cpuPressurePct"`
	IOWaitStallPct float64 `json:"ioPressurePct"`
}

func (c conditions) String() string {
	return fmt.Sprintf("load %.2f busy %.0f%% iowait %.0f%% steal %.0f%% cpu-pressure %.0f%% io-pressure %.0f%% disk w %.0f MB r %.0f MB dirty %.0f MB",
		c.Load1, c.BusyPct, c.IOWaitPct, c.StealPct, c.CPUWaitPct, c.IOWaitStallPct, c.DiskWriteMB, c.DiskReadMB, c.DirtyMB)
}

// watchMachine takes a snapshot now; the function it returns compares with a second one.
func watchMachine() func() conditions {
	cpu0, disk0 := cpuTimes(), diskSectors()
	cpuStall0, ioStall0 := pressureTotal("cpu"), pressureTotal("io")
	t0 := time.Now()
	start := conditions{DirtyMB: meminfoMB("Dirty"), Load1: atof(loadAvg())}
	return func() conditions {
		cpu1, disk1 := cpuTimes(), diskSectors()
		c := start
		if wall := time.Since(t0).Microseconds(); wall > 0 && cpuStall0 >= 0 {
			c.CPUWaitPct = 100 * float64(pressureTotal("cpu")-cpuStall0) / float64(wall)
			c.IOWaitStallPct = 100 * float64(pressureTotal("io")-ioStall0) / float64(wall)
		}
		var total float64
		d := make([]float64, len(cpu1))
		for i := range cpu1 {
			if i < len(cpu0) {
				d[i] = cpu1[i] - cpu0[i]
				total += d[i]
			}
		}
		// /proc/stat cpu: user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user.
		if total > 0 && len(d) >= 8 {
			busy := d[0] + d[1] + d[2] + d[5] + d[6]
			c.BusyPct = 100 * busy / total
			c.IOWaitPct = 100 * d[4] / total
			c.StealPct = 100 * d[7] / total
		}
		c.DiskReadMB = float64(disk1[0]-disk0[0]) * 512 / 1e6
		c.DiskWriteMB = float64(disk1[1]-disk0[1]) * 512 / 1e6
		return c
	}
}

// cpuTimes is the first line of /proc/stat (all CPUs), in clock ticks; without guest and
// guest_nice, which user already counts.
func cpuTimes() []float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return nil
	}
	out := make([]float64, 0, 8)
	for _, v := range f[1:9] {
		out = append(out, atof(v))
	}
	return out
}

// diskSectors sums sectors read and written by whole block devices (not partitions, not
// loop, ram or device-mapper devices, which would count the same bytes twice).
func diskSectors() [2]int64 {
	var out [2]int64
	data, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		name := f[2]
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "dm-") || strings.HasPrefix(name, "zram") {
			continue
		}
		if _, err := os.Stat("/sys/block/" + name); err != nil {
			continue // a partition
		}
		r, _ := strconv.ParseInt(f[5], 10, 64)
		w, _ := strconv.ParseInt(f[9], 10, 64)
		out[0] += r
		out[1] += w
	}
	return out
}

// pressureTotal is the "some" line's total stall time (µs) of /proc/pressure/<resource>,
// -1 without PSI.
func pressureTotal(resource string) int64 {
	data, err := os.ReadFile("/proc/pressure/" + resource)
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func meminfoMB(field string) float64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			kb := atof(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb * 1024 / 1e6
		}
	}
	return 0
}
