package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"strings"
)

// linkJSON is the JSON form of Link. Pointers tell an absent field from a
// zero one, so that "mtu": 0 is an error and not a silent no-op.
type linkJSON struct {
	Name         *string            `json:"name"`
	Kind         *string            `json:"kind"`
	Peer         *string            `json:"peer"`
	State        *string            `json:"state"`
	MTU          *int64             `json:"mtu"`
	HardwareAddr *string            `json:"hwaddr"`
	Addresses    *[]string          `json:"addresses"`
	Routes       *[]json.RawMessage `json:"routes"`
}

// routeJSON is the JSON form of Route.
type routeJSON struct {
	Destination *string `json:"destination"`
	Gateway     *string `json:"gateway"`
	Table       *uint32 `json:"table"`
	Metric      *uint32 `json:"metric"`
}

// Decode reads one JSON object that describes a link, such as
//
//	{"name": "veth0", "state": "up", "mtu": 9000,
//	 "addresses": ["192.0.2.10/24"],
//	 "routes": [{"destination": "198.51.100.0/24", "gateway": "192.0.2.1"}]}
//
// and returns it validated. Unknown fields, values of the wrong type,
// unparsable addresses and anything after the object are errors that name
// the field. They match ErrInvalidSpec, as do the problems Validate finds.
// JSON null, like an absent field, leaves that part of the link alone.
func Decode(r io.Reader) (Link, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()

	var l Link
	if err := dec.Decode(&l); err != nil {
		return Link{}, jsonError("", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Link{}, &SpecError{Reason: "unexpected data after the JSON object: give one object"}
	}

	if err := l.Validate(); err != nil {
		return Link{}, err
	}
	return l, nil
}

// UnmarshalJSON decodes the JSON form of a link strictly, as Decode does,
// but does not call Validate.
func (l *Link) UnmarshalJSON(data []byte) error {
	var j linkJSON
	if err := strictUnmarshal(data, &j); err != nil {
		return jsonError("", err)
	}
	if j.Name == nil {
		return &SpecError{Field: "name", Reason: "missing: a description needs the link's name"}
	}

	out := Link{Name: *j.Name}
	if err := j.decodeScalars(&out); err != nil {
		return err
	}
	if err := j.decodeAddresses(&out); err != nil {
		return err
	}
	if err := j.decodeRoutes(&out); err != nil {
		return err
	}

	*l = out
	return nil
}

func (j *linkJSON) decodeScalars(out *Link) error {
	if j.Kind != nil {
		out.Kind = *j.Kind
	}
	if j.Peer != nil {
		out.Peer = *j.Peer
	}

	if j.State != nil {
		if *j.State == "" {
			return &SpecError{Field: "state", Reason: fmt.Sprintf("must be %q or %q; leave the field out to keep the state", StateUp, StateDown)}
		}
		out.State = State(*j.State)
	}

	// Validate reports other MTUs out of range, together with the other
	// problems it finds; 0 would mean "leave the MTU alone" there.
	if j.MTU != nil {
		if *j.MTU <= 0 || *j.MTU > math.MaxInt32 {
			return specError("mtu", fmt.Sprint(*j.MTU), "out of range %d to %d; leave the field out to keep the MTU", MinMTU, MaxMTU)
		}
		out.MTU = int(*j.MTU)
	}

	if j.HardwareAddr != nil {
		if err := out.HardwareAddr.UnmarshalText([]byte(*j.HardwareAddr)); err != nil {
			return specError("hwaddr", *j.HardwareAddr, "not a link-layer address such as 02:00:5e:10:00:01")
		}
	}
	return nil
}

func (j *linkJSON) decodeAddresses(out *Link) error {
	if j.Addresses == nil {
		return nil
	}

	out.Addresses = make([]netip.Prefix, 0, len(*j.Addresses))
	for i, text := range *j.Addresses {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return specError(fmt.Sprintf("addresses[%d]", i), text, "not an address with a prefix length such as 192.0.2.10/24 or 2001:db8::10/64")
		}
		out.Addresses = append(out.Addresses, p)
	}
	return nil
}

func (j *linkJSON) decodeRoutes(out *Link) error {
	if j.Routes == nil {
		return nil
	}

	out.Routes = make([]Route, 0, len(*j.Routes))
	for i, raw := range *j.Routes {
		r, err := decodeRoute(fmt.Sprintf("routes[%d]", i), raw)
		if err != nil {
			return err
		}
		out.Routes = append(out.Routes, r)
	}
	return nil
}

// UnmarshalJSON decodes the JSON form of a route strictly: unknown fields,
// values of the wrong type and unparsable addresses are errors that match
// ErrInvalidSpec. An empty or absent "gateway" makes a directly connected
// route.
func (r *Route) UnmarshalJSON(data []byte) error {
	route, err := decodeRoute("route", data)
	if err != nil {
		return err
	}
	*r = route
	return nil
}

func decodeRoute(field string, data []byte) (Route, error) {
	var j routeJSON
	if err := strictUnmarshal(data, &j); err != nil {
		return Route{}, jsonError(field, err)
	}
	if j.Destination == nil {
		return Route{}, &SpecError{Field: field + ".destination", Reason: "missing: use a prefix such as 198.51.100.0/24, or 0.0.0.0/0 for a default route"}
	}

	var r Route
	dst, err := netip.ParsePrefix(*j.Destination)
	if err != nil {
		return Route{}, specError(field+".destination", *j.Destination, "not a prefix such as 198.51.100.0/24 or 0.0.0.0/0")
	}
	r.Destination = dst

	if j.Gateway != nil && *j.Gateway != "" {
		gw, err := netip.ParseAddr(*j.Gateway)
		if err != nil {
			return Route{}, specError(field+".gateway", *j.Gateway, "not an IP address such as 192.0.2.1")
		}
		r.Gateway = gw
	}
	if j.Table != nil {
		r.Table = *j.Table
	}
	if j.Metric != nil {
		r.Metric = *j.Metric
	}
	return r, nil
}

// strictUnmarshal decodes data into v, rejecting unknown fields.
func strictUnmarshal(data []byte, v any) error {
	if err := checkKeys(data, v); err != nil {
		return err
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkKeys rejects what encoding/json accepts in silence: a key that
// matches a field only when case is ignored ("MTU" for "mtu"), and a key
// given twice, where the last value would win. v is a pointer to a struct
// whose json tags name the allowed keys. Malformed JSON is left for the
// decoder to report.
func checkKeys(data []byte, v any) error {
	allowed := make(map[string]bool)
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		allowed[name] = true
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil
		}
		switch {
		case !allowed[key]:
			return fmt.Errorf("json: unknown field %q", key)
		case seen[key]:
			return fmt.Errorf("json: duplicate field %q", key)
		}
		seen[key] = true

		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil
		}
	}
	return nil
}

// jsonError turns an error from encoding/json into a *SpecError that names
// the field, prefixed with the path of the enclosing object.
func jsonError(prefix string, err error) error {
	var specErr *SpecError
	if errors.As(err, &specErr) {
		return err
	}

	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeError(prefix, typeErr)
	}

	// encoding/json reports an unknown field as `json: unknown field "x"`,
	// with no error type to match; checkKeys uses the same form, and one
	// for duplicate keys.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &SpecError{Field: join(prefix, strings.Trim(name, `"`)), Reason: "unknown field: check its spelling"}
	}

	if name, ok := strings.CutPrefix(err.Error(), "json: duplicate field "); ok {
		return &SpecError{Field: join(prefix, strings.Trim(name, `"`)), Reason: "duplicate field: give each field once"}
	}

	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &SpecError{Field: prefix, Reason: fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, err)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SpecError{Field: prefix, Reason: "incomplete JSON: expected one object"}
	}
	return &SpecError{Field: prefix, Reason: err.Error()}
}

// typeError describes a JSON value of the wrong type. encoding/json gives
// the value as "number -1" for numbers, and as the JSON type otherwise.
func typeError(prefix string, err *json.UnmarshalTypeError) *SpecError {
	if err.Field == "" {
		return &SpecError{Field: prefix, Reason: fmt.Sprintf("got a JSON %s, expected an object", err.Value)}
	}

	field := join(prefix, err.Field)
	expected := jsonTypeName(err.Type.String())
	if number, ok := strings.CutPrefix(err.Value, "number "); ok {
		return &SpecError{Field: field, Value: number, Reason: "wrong type or range: expected " + expected}
	}
	return &SpecError{Field: field, Reason: fmt.Sprintf("wrong type: got a JSON %s, expected %s", err.Value, expected)}
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// jsonTypeName names the JSON value that a Go type in linkJSON or routeJSON
// takes.
func jsonTypeName(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch goType {
	case "string":
		return "a string"
	case "int64":
		return "an integer"
	case "uint32":
		return "an integer from 0 to 4294967295"
	case "[]string", "[]json.RawMessage":
		return "an array"
	}
	return goType
}
