package api

import (
	"net/http"
	"time"

	"github.com/tocsin/tocsin/incident"
)

type createRequest struct {
	Name       string                              `json:"name"`
	Status     incident.Status                     `json:"status"`
	Body       string                              `json:"body"`
	Components map[string]incident.ComponentStatus `json:"components"`
	Impact     incident.Impact                     `json:"impact"`
}

type updateRequest struct {
	Status incident.Status `json:"status"`
	Body   string          `json:"body"`
}

type resolveRequest struct {
	Body string `json:"body"`
}

type nameRequest struct {
	Name string `json:"name"`
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, at time.Time) (int, incident.Incident, error) {
	var req createRequest
	if err := decode(w, r, &req, false); err != nil {
		return 0, incident.Incident{}, err
	}
	m := incident.ManualIncident{
		ID: incident.NewID(), Name: req.Name, Status: req.Status, Body: req.Body,
		Components: req.Components, Impact: req.Impact, At: at,
	}
	if err := m.Validate(); err != nil {
		return 0, incident.Incident{}, invalid(err)
	}
	inc, err := h.store.CreateIncident(r.Context(), m)
	return http.StatusCreated, inc, err
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request, at time.Time) (int, incident.Incident, error) {
	var req updateRequest
	if err := decode(w, r, &req, false); err != nil {
		return 0, incident.Incident{}, err
	}
	return h.addUpdate(r, incident.HumanUpdate{Status: req.Status, Body: req.Body, At: at})
}

func (h *Handler) resolve(w http.ResponseWriter, r *http.Request, at time.Time) (int, incident.Incident, error) {
	var req resolveRequest
	if err := decode(w, r, &req, true); err != nil {
		return 0, incident.Incident{}, err
	}
	if req.Body == "" {
		req.Body = ResolvedBody
	}
	return h.addUpdate(r, incident.HumanUpdate{Status: incident.Resolved, Body: req.Body, At: at})
}

func (h *Handler) addUpdate(r *http.Request, u incident.HumanUpdate) (int, incident.Incident, error) {
	if err := u.Validate(); err != nil {
		return 0, incident.Incident{}, invalid(err)
	}
	inc, err := h.store.AddUpdate(r.Context(), r.PathValue("id"), u)
	return http.StatusOK, inc, err
}

func (h *Handler) rename(w http.ResponseWriter, r *http.Request, at time.Time) (int, incident.Incident, error) {
	var req nameRequest
	if err := decode(w, r, &req, false); err != nil {
		return 0, incident.Incident{}, err
	}
	if err := incident.ValidName(req.Name); err != nil {
		return 0, incident.Incident{}, invalid(err)
	}
	inc, err := h.store.Rename(r.Context(), r.PathValue("id"), req.Name, at)
	return http.StatusOK, inc, err
}
