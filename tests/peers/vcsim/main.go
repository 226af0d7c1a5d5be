// jetdr-vcsim: govmomi's vCenter simulator with the managers that release lacks.
//
// The Debian govmomi (0.24) simulator has no ExtensionManager or IoFilterManager methods. This
// program registers handlers for both, so pyvmomi code paths run against a real SOAP endpoint:
// extensions are registered, updated and unregistered; IO filters install, upgrade and uninstall
// cluster-wide, host by host, fetching the VIB from its URL like vCenter does, putting hosts in
// maintenance mode one at a time for uninstall and upgrade, and reporting per-host issues.
// Host names listed in the -fault-file (one per line, read at every operation) fail.
//
// It prints one JSON line {"url": ...} on stdout when it serves, and runs until killed.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type extensionManager struct {
	mo.ExtensionManager
}

func (m *extensionManager) find(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

func (m *extensionManager) FindExtension(req *types.FindExtension) soap.HasFault {
	body := &methods.FindExtensionBody{Res: &types.FindExtensionResponse{}}
	if i := m.find(req.ExtensionKey); i >= 0 {
		found := m.ExtensionList[i]
		body.Res.Returnval = &found
	}
	return body
}

func (m *extensionManager) RegisterExtension(req *types.RegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if m.find(req.Extension.Key) >= 0 {
		body.Fault_ = simulator.Fault("extension already registered", &types.AlreadyExists{Name: req.Extension.Key})
		return body
	}
	extension := req.Extension
	extension.LastHeartbeatTime = time.Now()
	m.ExtensionList = append(m.ExtensionList, extension)
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

func (m *extensionManager) UpdateExtension(req *types.UpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	i := m.find(req.Extension.Key)
	if i < 0 {
		body.Fault_ = simulator.Fault("extension not found", &types.NotFound{})
		return body
	}
	m.ExtensionList[i] = req.Extension
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

func (m *extensionManager) UnregisterExtension(req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	i := m.find(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = simulator.Fault("extension not found", &types.NotFound{})
		return body
	}
	m.ExtensionList = append(m.ExtensionList[:i], m.ExtensionList[i+1:]...)
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}

// deleteDatastoreFile answers DELETE on /folder, which vCenter's datastore HTTP interface
// supports and this simulator release does not.
func deleteDatastoreFile(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("dsName")
	for _, entity := range simulator.Map.All("Datastore") {
		store := entity.(*simulator.Datastore)
		if store.Name != name {
			continue
		}
		file := path.Join(store.Info.GetDatastoreInfo().Url, path.Clean("/"+strings.TrimPrefix(r.URL.Path, "/folder/")))
		if _, err := os.Stat(file); err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if err := os.RemoveAll(file); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

type clusterFilter struct {
	info      types.ClusterIoFilterInfo
	installed map[string]string // host moref -> installed version
	issues    map[string]string // host moref -> message of the last operation
}

type ioFilterManager struct {
	mo.IoFilterManager
	faultFile string
	mu        sync.Mutex
	filters   map[string]*clusterFilter // cluster moref -> the filter on it
	fetch     *http.Client
}

var (
	descriptorName    = regexp.MustCompile(`<name>([^<]+)</name>`)
	descriptorVersion = regexp.MustCompile(`<version>([^<]+)</version>`)
	descriptorVendor  = regexp.MustCompile(`<vendor>([^<]+)</vendor>`)
)

func (m *ioFilterManager) failing() map[string]bool {
	names := map[string]bool{}
	if m.faultFile == "" {
		return names
	}
	data, err := os.ReadFile(m.faultFile)
	if err != nil {
		return names
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name := strings.TrimSpace(line); name != "" {
			names[name] = true
		}
	}
	return names
}

func (m *ioFilterManager) cluster(ref types.ManagedObjectReference) (*simulator.ClusterComputeResource, types.BaseMethodFault) {
	cluster, ok := simulator.Map.Get(ref).(*simulator.ClusterComputeResource)
	if !ok {
		return nil, &types.InvalidArgument{InvalidProperty: "compRes"}
	}
	return cluster, nil
}

func (m *ioFilterManager) readVib(vibURL string) (name, version, vendor string, err error) {
	response, err := m.fetch.Get(vibURL)
	if err != nil {
		return "", "", "", err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return "", "", "", fmt.Errorf("GET %s: %s", vibURL, response.Status)
	}
	data, err := io.ReadAll(io.LimitReader(response.Body, 16<<20))
	if err != nil {
		return "", "", "", err
	}
	if !strings.HasPrefix(string(data), "!<arch>\n") {
		return "", "", "", fmt.Errorf("%s is not a VIB archive", vibURL)
	}
	find := func(re *regexp.Regexp) string {
		if match := re.FindSubmatch(data); match != nil {
			return string(match[1])
		}
		return ""
	}
	name, version, vendor = find(descriptorName), find(descriptorVersion), find(descriptorVendor)
	if name == "" || version == "" {
		return "", "", "", fmt.Errorf("%s has no VIB descriptor", vibURL)
	}
	return name, version, vendor, nil
}

func setHostFilters(host *simulator.HostSystem, filters []types.HostIoFilterInfo) {
	if host.Config == nil {
		host.Config = &types.HostConfigInfo{}
	}
	host.Config.IoFilterInfo = filters
}

func setMaintenance(host *simulator.HostSystem, on bool) {
	simulator.Map.Update(host, []types.PropertyChange{{Name: "runtime.inMaintenanceMode", Val: on}})
}

// apply runs one operation on the hosts of a cluster, one at a time.
func (m *ioFilterManager) apply(cluster *simulator.ClusterComputeResource, f *clusterFilter, op, version string, only map[string]bool) {
	failing := m.failing()
	maintenance := op == "uninstall" || op == "upgrade"
	f.info.OpType = op
	for _, ref := range cluster.Host {
		host := simulator.Map.Get(ref).(*simulator.HostSystem)
		if only != nil && !only[ref.Value] {
			continue
		}
		if op == "install" && f.installed[ref.Value] == version {
			delete(f.issues, ref.Value)
			continue
		}
		if op != "install" && f.installed[ref.Value] == "" {
			continue
		}
		if failing[host.Name] {
			f.issues[ref.Value] = fmt.Sprintf("The VIB %s failed on host %s: esxcli returned an error", op, host.Name)
			continue
		}
		if maintenance {
			setMaintenance(host, true)
		}
		delete(f.issues, ref.Value)
		if op == "uninstall" {
			delete(f.installed, ref.Value)
			setHostFilters(host, nil)
		} else {
			f.installed[ref.Value] = version
			setHostFilters(host, []types.HostIoFilterInfo{{IoFilterInfo: f.info.IoFilterInfo, Available: true}})
		}
		if maintenance {
			setMaintenance(host, false)
		}
	}
}

func (m *ioFilterManager) runTask(cluster *simulator.ClusterComputeResource, name string, work func() types.BaseMethodFault) types.ManagedObjectReference {
	task := simulator.CreateTask(cluster, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return nil, work()
	})
	return task.Run()
}

func (m *ioFilterManager) install(cluster *simulator.ClusterComputeResource, vibURL string) types.BaseMethodFault {
	name, version, vendor, err := m.readVib(vibURL)
	if err != nil {
		return &types.SystemError{Reason: err.Error()}
	}
	key := cluster.Self.Value
	f := m.filters[key]
	op := "install"
	if f != nil && f.info.Name == name && f.info.Version != version {
		op = "upgrade" // a filter of the same name at another version is an upgrade
	}
	if f == nil {
		f = &clusterFilter{installed: map[string]string{}, issues: map[string]string{}}
		m.filters[key] = f
	}
	f.info.IoFilterInfo = types.IoFilterInfo{
		Id:   fmt.Sprintf("%s_bootbank_%s_%s", strings.Fields(vendor + " x")[0], name, version),
		Name: name, Vendor: vendor, Version: version, Type: "replication",
		Summary: "replication IO filter",
	}
	f.info.VibUrl = vibURL
	m.apply(cluster, f, op, version, nil)
	return nil
}

func (m *ioFilterManager) InstallIoFilterTask(req *types.InstallIoFilter_Task) soap.HasFault {
	body := &methods.InstallIoFilter_TaskBody{}
	cluster, fault := m.cluster(req.CompRes)
	if fault != nil {
		body.Fault_ = simulator.Fault("IO filters install on clusters only", fault)
		return body
	}
	ref := m.runTask(cluster, "installIoFilter", func() types.BaseMethodFault { return m.install(cluster, req.VibUrl) })
	body.Res = &types.InstallIoFilter_TaskResponse{Returnval: ref}
	return body
}

func (m *ioFilterManager) lookup(cluster *simulator.ClusterComputeResource, filterID string) (*clusterFilter, types.BaseMethodFault) {
	f := m.filters[cluster.Self.Value]
	if f == nil || f.info.Id != filterID {
		return nil, &types.NotFound{}
	}
	return f, nil
}

func (m *ioFilterManager) UpgradeIoFilterTask(req *types.UpgradeIoFilter_Task) soap.HasFault {
	body := &methods.UpgradeIoFilter_TaskBody{}
	cluster, fault := m.cluster(req.CompRes)
	if fault != nil {
		body.Fault_ = simulator.Fault("IO filters upgrade on clusters only", fault)
		return body
	}
	ref := m.runTask(cluster, "upgradeIoFilter", func() types.BaseMethodFault {
		if _, fault := m.lookup(cluster, req.FilterId); fault != nil {
			return fault
		}
		return m.install(cluster, req.VibUrl)
	})
	body.Res = &types.UpgradeIoFilter_TaskResponse{Returnval: ref}
	return body
}

func (m *ioFilterManager) UninstallIoFilterTask(req *types.UninstallIoFilter_Task) soap.HasFault {
	body := &methods.UninstallIoFilter_TaskBody{}
	cluster, fault := m.cluster(req.CompRes)
	if fault != nil {
		body.Fault_ = simulator.Fault("IO filters uninstall from clusters only", fault)
		return body
	}
	ref := m.runTask(cluster, "uninstallIoFilter", func() types.BaseMethodFault {
		f, fault := m.lookup(cluster, req.FilterId)
		if fault != nil {
			return fault
		}
		m.apply(cluster, f, "uninstall", "", nil)
		if len(f.installed) == 0 {
			delete(m.filters, cluster.Self.Value)
		}
		return nil
	})
	body.Res = &types.UninstallIoFilter_TaskResponse{Returnval: ref}
	return body
}

func (m *ioFilterManager) ResolveInstallationErrorsOnClusterTask(req *types.ResolveInstallationErrorsOnCluster_Task) soap.HasFault {
	body := &methods.ResolveInstallationErrorsOnCluster_TaskBody{}
	cluster, fault := m.cluster(req.Cluster)
	if fault != nil {
		body.Fault_ = simulator.Fault("not a cluster", fault)
		return body
	}
	ref := m.runTask(cluster, "resolveInstallationErrorsOnCluster", func() types.BaseMethodFault {
		f, fault := m.lookup(cluster, req.FilterId)
		if fault != nil {
			return fault
		}
		retry := map[string]bool{}
		for host := range f.issues {
			retry[host] = true
		}
		for _, ref := range cluster.Host {
			if _, ok := f.installed[ref.Value]; !ok && f.info.OpType != "uninstall" {
				retry[ref.Value] = true
			}
		}
		m.apply(cluster, f, f.info.OpType, f.info.Version, retry)
		if f.info.OpType == "uninstall" && len(f.installed) == 0 {
			delete(m.filters, cluster.Self.Value)
		}
		return nil
	})
	body.Res = &types.ResolveInstallationErrorsOnCluster_TaskResponse{Returnval: ref}
	return body
}

func (m *ioFilterManager) QueryIoFilterInfo(req *types.QueryIoFilterInfo) soap.HasFault {
	body := &methods.QueryIoFilterInfoBody{}
	cluster, fault := m.cluster(req.CompRes)
	if fault != nil {
		body.Fault_ = simulator.Fault("not a cluster", fault)
		return body
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	body.Res = &types.QueryIoFilterInfoResponse{}
	if f := m.filters[cluster.Self.Value]; f != nil {
		body.Res.Returnval = []types.ClusterIoFilterInfo{f.info}
	}
	return body
}

func (m *ioFilterManager) QueryIoFilterIssues(req *types.QueryIoFilterIssues) soap.HasFault {
	body := &methods.QueryIoFilterIssuesBody{}
	cluster, fault := m.cluster(req.CompRes)
	if fault != nil {
		body.Fault_ = simulator.Fault("not a cluster", fault)
		return body
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, fault := m.lookup(cluster, req.FilterId)
	if fault != nil {
		body.Fault_ = simulator.Fault("filter not found", fault)
		return body
	}
	result := types.IoFilterQueryIssueResult{OpType: f.info.OpType}
	for _, ref := range cluster.Host {
		if message, ok := f.issues[ref.Value]; ok {
			result.HostIssue = append(result.HostIssue, types.IoFilterHostIssue{
				Host: ref,
				Issue: []types.LocalizedMethodFault{{
					Fault:            &types.SystemError{Reason: message},
					LocalizedMessage: message,
				}},
			})
		}
	}
	body.Res = &types.QueryIoFilterIssuesResponse{Returnval: result}
	return body
}

// emulateGuests plays the guest OS of the VMs the appliance creates: once powered on, a VM
// reports the IP its guestinfo asks for (a static DRVA) or one from the segment (DHCP).
func emulateGuests(stop <-chan struct{}) {
	next := 20
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		for _, entity := range simulator.Map.All("VirtualMachine") {
			vm := entity.(*simulator.VirtualMachine)
			simulator.Map.WithLock(vm, func() {
				if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || vm.Guest == nil || vm.Guest.IpAddress != "" {
					return
				}
				ip := ""
				if vm.Config != nil {
					for _, option := range vm.Config.ExtraConfig {
						value := option.GetOptionValue()
						if value.Key == "guestinfo.jetstream.ip" {
							ip, _ = value.Value.(string)
						}
					}
				}
				if ip == "" {
					ip = fmt.Sprintf("10.30.%d.%d", next/200, next%200+20)
					next++
				}
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "guest.ipAddress", Val: ip},
					{Name: "summary.guest.ipAddress", Val: ip},
				})
			})
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	username := flag.String("username", "administrator@vsphere.local", "the vCenter user")
	password := flag.String("password", "VMware1!", "the vCenter password")
	hosts := flag.Int("hosts", 4, "hosts in the cluster")
	vms := flag.Int("vms", 2, "VMs per host")
	faultFile := flag.String("fault-file", "", "file of host names whose IO-filter operations fail")
	version := flag.String("version", "7.0.3", "the vCenter version reported by about")
	build := flag.String("build", "19234570", "the vCenter build reported by about")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter = 1
	model.Cluster = 1
	model.ClusterHost = *hosts
	model.Host = 0
	model.Machine = *vms
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "create model:", err)
		os.Exit(1)
	}
	defer model.Remove()
	instance := simulator.Map.Get(types.ManagedObjectReference{Type: "ServiceInstance", Value: "ServiceInstance"}).(*simulator.ServiceInstance)
	instance.Content.About.Version = *version
	instance.Content.About.Build = *build
	instance.Content.About.ApiVersion = *version
	model.Service.TLS = new(tls.Config)
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}

	// The fixed references the VPX service content hands out for these managers.
	extensionRef := types.ManagedObjectReference{Type: "ExtensionManager", Value: "ExtensionManager"}
	ioFilterRef := types.ManagedObjectReference{Type: "IoFilterManager", Value: "IoFilterManager"}
	simulator.Map.Put(&extensionManager{mo.ExtensionManager{Self: extensionRef}})
	simulator.Map.Put(&ioFilterManager{
		IoFilterManager: mo.IoFilterManager{Self: ioFilterRef},
		faultFile:       *faultFile,
		filters:         map[string]*clusterFilter{},
		fetch: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // #nosec: the appliance's self-signed VIB server
		},
	})

	server := model.Service.NewServer()
	defer server.Close()
	sdk := server.Config.Handler
	server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/folder/") {
			deleteDatastoreFile(w, r)
			return
		}
		sdk.ServeHTTP(w, r)
	})
	served := *server.URL
	served.User = nil
	line, _ := json.Marshal(map[string]string{"url": served.String()})
	fmt.Println(string(line))

	guests := make(chan struct{})
	go emulateGuests(guests)
	defer close(guests)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
