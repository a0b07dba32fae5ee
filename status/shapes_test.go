package status

// Statuspage v2 shapes, as published at https://metastatuspage.com/api/v2/,
// and tocsin's /api/v1 shapes.

var (
	componentStatusEnum = enum("operational", "degraded_performance", "partial_outage", "major_outage",
		"under_maintenance")
	incidentStatusEnum = enum("investigating", "identified", "monitoring", "resolved", "postmortem")
	maintStatusEnum    = enum("scheduled", "in_progress", "verifying", "completed")
	impactEnum         = enum("none", "minor", "major", "critical")
	indicatorEnum      = enum("none", "minor", "major", "critical", "maintenance")
	probeStatusEnum    = enum("up", "degraded", "down")
)

var pageShape = obj(map[string]shape{
	"id": str(), "name": str(), "url": str(), "time_zone": str(), "updated_at": timestamp(),
})

var statusShape = obj(map[string]shape{"indicator": indicatorEnum, "description": enum(
	"All Systems Operational", "Minor Service Outage", "Partial System Outage", "Major Service Outage",
	"Service Under Maintenance")})

var componentShape = obj(map[string]shape{
	"id": str(), "name": str(), "status": componentStatusEnum, "created_at": timestamp(),
	"updated_at": timestamp(), "position": integer(), "description": nullable(str()), "showcase": boolean(),
	"start_date": nullable(str()), "group_id": nullable(str()), "page_id": str(), "group": boolean(),
	"only_show_if_degraded": boolean(), "components?": arr(str()),
})

var affectedShape = obj(map[string]shape{
	"code": str(), "name": str(), "old_status": componentStatusEnum, "new_status": componentStatusEnum,
})

func updateShape(status shape) shape {
	return obj(map[string]shape{
		"id": str(), "status": status, "body": str(), "incident_id": str(), "created_at": timestamp(),
		"updated_at": timestamp(), "display_at": timestamp(), "affected_components": nullable(arr(affectedShape)),
		"deliver_notifications": boolean(), "custom_tweet": nullable(str()), "tweet_id": nullable(str()),
	})
}

func incidentFields(status, impact shape) map[string]shape {
	return map[string]shape{
		"id": str(), "name": str(), "status": status, "created_at": timestamp(), "updated_at": timestamp(),
		"monitoring_at": nullable(timestamp()), "resolved_at": nullable(timestamp()), "impact": impact,
		"shortlink": nullable(str()), "started_at": timestamp(), "page_id": str(),
		"incident_updates": arr(updateShape(status)), "components": arr(componentShape),
	}
}

var incidentShape = obj(incidentFields(incidentStatusEnum, impactEnum))

var maintenanceShape = func() shape {
	f := incidentFields(maintStatusEnum, enum("maintenance"))
	f["scheduled_for"], f["scheduled_until"] = timestamp(), timestamp()
	return obj(f)
}()

// docShapes is the shape of every JSON endpoint body.
var docShapes = map[string]shape{
	pathStatus:       obj(map[string]shape{"page": pageShape, "status": statusShape}),
	pathComponents:   obj(map[string]shape{"page": pageShape, "components": arr(componentShape)}),
	pathIncidents:    obj(map[string]shape{"page": pageShape, "incidents": arr(incidentShape)}),
	pathUnresolved:   obj(map[string]shape{"page": pageShape, "incidents": arr(incidentShape)}),
	pathMaintenances: obj(map[string]shape{"page": pageShape, "scheduled_maintenances": arr(maintenanceShape)}),
	pathMaintUpcoming: obj(map[string]shape{"page": pageShape,
		"scheduled_maintenances": arr(maintenanceShape)}),
	pathMaintActive: obj(map[string]shape{"page": pageShape, "scheduled_maintenances": arr(maintenanceShape)}),
	pathSummary: obj(map[string]shape{"page": pageShape, "components": arr(componentShape),
		"incidents": arr(incidentShape), "scheduled_maintenances": arr(maintenanceShape), "status": statusShape}),
	pathChecks: obj(map[string]shape{"generated_at": timestamp(), "stale": boolean(), "checks": arr(checkShape)}),
}

var checkDocShape = obj(map[string]shape{"generated_at": timestamp(), "stale": boolean(), "check": checkShape})

var checkShape = obj(map[string]shape{
	"name": str(), "component": str(), "type": str(), "target": nullable(str()), "interval": str(),
	"timeout": str(), "status": enum("unknown", "up", "degraded", "down"), "since": nullable(timestamp()),
	"warnings": arr(obj(map[string]shape{
		"reason": enum("cert_expiry"), "message": str(), "not_after": nullable(timestamp()),
	})),
	"last_result": nullable(obj(map[string]shape{
		"status": probeStatusEnum, "reason": nullable(str()), "message": nullable(str()), "start": timestamp(),
		"duration_ms": number(), "phases": phasesShape, "status_code": nullable(integer()),
		"cert_expires_at": nullable(timestamp()),
	})),
	"recent": arr(obj(map[string]shape{
		"status": probeStatusEnum, "reason": nullable(str()), "start": timestamp(), "duration_ms": number(),
	})),
})

// phasesShape wants an object of numbers.
func phasesShape(p string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{p + ": want object"}
	}
	var out []string
	for k, x := range m {
		out = append(out, number()(p+"."+k, x)...)
	}
	return out
}
