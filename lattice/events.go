package lattice

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event types (PROTOCOL.md §6), without the "com.wasmcloud.lattice." prefix.
const (
	eventPrefix = "com.wasmcloud.lattice."

	EventHostStarted         = "host_started"
	EventHostStopped         = "host_stopped"
	EventHostHeartbeat       = "host_heartbeat"
	EventActorStarted        = "actor_started"
	EventActorStartFailed    = "actor_start_failed"
	EventActorStopped        = "actor_stopped"
	EventActorUpdated        = "actor_updated"
	EventActorUpdateFailed   = "actor_update_failed"
	EventProviderStarted     = "provider_started"
	EventProviderStartFailed = "provider_start_failed"
	EventProviderStopped     = "provider_stopped"
	EventHealthCheckPassed   = "health_check_passed"
	EventHealthCheckFailed   = "health_check_failed"
	EventLinkdefSet          = "linkdef_set"
	EventLinkdefDeleted      = "linkdef_deleted"
	EventLinkdefRejected     = "linkdef_rejected" // Trellis extension
	EventClaimsRejected      = "claims_rejected"  // Trellis extension
	EventRefmapSet           = "refmap_set"
	EventInvocationFailed    = "invocation_failed" // Trellis extension
	// EventBucketReplicasLow: a lattice bucket has fewer replicas than the host is configured
	// for (or raising them failed). Trellis extension.
	EventBucketReplicasLow = "bucket_replicas_low"
	// EventBucketReplicasRaised: the host raised a lattice bucket's replicas. Trellis extension.
	EventBucketReplicasRaised = "bucket_replicas_raised"
)

// CloudEvent is a CloudEvents 1.0 envelope in JSON form.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	ID              string          `json:"id"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// NewEvent builds an event of the given short name (e.g. EventActorStarted) from source.
func NewEvent(name, source string, data any) (CloudEvent, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return CloudEvent{}, fmt.Errorf("event %s: %w", name, err)
	}
	return CloudEvent{
		SpecVersion:     "1.0",
		Type:            eventPrefix + name,
		Source:          source,
		ID:              uuid.NewString(),
		Time:            time.Now().UTC().Format(time.RFC3339),
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// Name returns the short event name ("actor_started") of a full type.
func (e CloudEvent) Name() string {
	if len(e.Type) > len(eventPrefix) && e.Type[:len(eventPrefix)] == eventPrefix {
		return e.Type[len(eventPrefix):]
	}
	return e.Type
}

// DecodeData unmarshals the event's data into v.
func (e CloudEvent) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s data: %w", e.Type, err)
	}
	return nil
}

// Event data shapes. Fields follow PROTOCOL.md §6 exactly.

// HostStartedData is the data of host_started.
type HostStartedData struct {
	Labels        map[string]string `json:"labels"`
	FriendlyName  string            `json:"friendly_name"`
	UptimeSeconds uint64            `json:"uptime_seconds"`
	Version       string            `json:"version"`
}

// BucketReplicasData is the data of bucket_replicas_low and bucket_replicas_raised: a lattice
// bucket (Subjects.Buckets), the replicas it has (had, when raised) and those the host wants.
type BucketReplicasData struct {
	Bucket   string `json:"bucket"`
	Stream   string `json:"stream"`
	Replicas int    `json:"replicas"`
	Want     int    `json:"want"`
	// Error is why a raise failed (bucket_replicas_low only).
	Error string `json:"error,omitempty"`
}

// HostStoppedData is the data of host_stopped.
type HostStoppedData struct {
	Labels map[string]string `json:"labels"`
}

// HeartbeatProvider is one provider in host_heartbeat.
type HeartbeatProvider struct {
	PublicKey  string `json:"public_key"`
	LinkName   string `json:"link_name"`
	ContractID string `json:"contract_id"`
}

// HostHeartbeatData is the data of host_heartbeat.
type HostHeartbeatData struct {
	Actors        map[string]int      `json:"actors"`
	Providers     []HeartbeatProvider `json:"providers"`
	Labels        map[string]string   `json:"labels"`
	FriendlyName  string              `json:"friendly_name"`
	Version       string              `json:"version"`
	UptimeSeconds uint64              `json:"uptime_seconds"`
	UptimeHuman   string              `json:"uptime_human"`
}

// ActorStartedData is the data of actor_started.
type ActorStartedData struct {
	PublicKey   string            `json:"public_key"`
	ImageRef    string            `json:"image_ref"`
	APIVersion  string            `json:"api_version"`
	InstanceID  string            `json:"instance_id"`
	Annotations map[string]string `json:"annotations"`
	Claims      map[string]any    `json:"claims"`
}

// ActorStartFailedData is the data of actor_start_failed.
type ActorStartFailedData struct {
	ActorRef string `json:"actor_ref"`
	Error    string `json:"error"`
}

// ActorUpdatedData is the data of actor_updated, published for each instance of an actor after
// upd replaced its module (or found that module already running), as the OTP host publishes it:
// public_key, revision (the one now running) and instance_id. image_ref (the reference the
// update came from) and previous_revision are Trellis additions.
type ActorUpdatedData struct {
	PublicKey        string `json:"public_key"`
	Revision         int    `json:"revision"`
	InstanceID       string `json:"instance_id"`
	ImageRef         string `json:"image_ref"`
	PreviousRevision int    `json:"previous_revision"`
}

// ActorUpdateFailedData is the data of actor_update_failed: a host refused or could not make an
// update, and the actor keeps running what it ran. The OTP host sent it per instance with
// instance_id when swapping the module failed; Trellis sends one per update command, with the
// revision the new module holds (0 when it could not be read) and image_ref, the reference of
// the command.
type ActorUpdateFailedData struct {
	PublicKey string `json:"public_key"`
	Revision  int    `json:"revision"`
	ImageRef  string `json:"image_ref"`
	Reason    string `json:"reason"`
}

// ActorStoppedData is the data of actor_stopped.
type ActorStoppedData struct {
	PublicKey   string            `json:"public_key"`
	InstanceID  string            `json:"instance_id"`
	Annotations map[string]string `json:"annotations"`
}

// ProviderStartedData is the data of provider_started.
type ProviderStartedData struct {
	PublicKey   string            `json:"public_key"`
	ImageRef    string            `json:"image_ref"`
	LinkName    string            `json:"link_name"`
	ContractID  string            `json:"contract_id"`
	InstanceID  string            `json:"instance_id"`
	Annotations map[string]string `json:"annotations"`
	Claims      map[string]any    `json:"claims"`
}

// ProviderStartFailedData is the data of provider_start_failed.
type ProviderStartFailedData struct {
	ProviderRef string `json:"provider_ref"`
	LinkName    string `json:"link_name"`
	Error       string `json:"error"`
}

// ProviderStoppedData is the data of provider_stopped.
type ProviderStoppedData struct {
	PublicKey   string            `json:"public_key"`
	LinkName    string            `json:"link_name"`
	ContractID  string            `json:"contract_id"`
	InstanceID  string            `json:"instance_id"`
	Annotations map[string]string `json:"annotations"`
	Reason      string            `json:"reason"`
}

// HealthCheckData is the data of health_check_passed and health_check_failed.
type HealthCheckData struct {
	PublicKey  string `json:"public_key"`
	ContractID string `json:"contract_id"`
	LinkName   string `json:"link_name"`
}

// LinkdefData is the data of linkdef_set, linkdef_deleted and (with Reason) linkdef_rejected.
type LinkdefData struct {
	ID         string            `json:"id"`
	ActorID    string            `json:"actor_id"`
	ProviderID string            `json:"provider_id"`
	LinkName   string            `json:"link_name"`
	ContractID string            `json:"contract_id"`
	Values     map[string]string `json:"values"`
	Reason     string            `json:"reason,omitempty"`
}

// ClaimsRejectedData is the data of claims_rejected: a host ignored a CLAIMS_ entry of the lattice
// bucket, under Key, because it is malformed or does not verify (Reason).
type ClaimsRejectedData struct {
	PublicKey string `json:"public_key"`
	Key       string `json:"key"`
	Reason    string `json:"reason"`
}

// RefmapSetData is the data of refmap_set.
type RefmapSetData struct {
	OCIURL    string `json:"oci_url"`
	PublicKey string `json:"public_key"`
}
