package export

// ParityReport compares an exported model with its source framework.
type ParityReport struct {
	Framework string      `json:"framework"`
	Tolerance float64     `json:"tolerance"`
	Outputs   []Deviation `json:"outputs"`
	Passed    bool        `json:"passed"`
}
