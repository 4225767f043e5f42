package missing

func Exists() int { return 1 }

// Calculator exists; its method Double does not yet.
type Calculator struct{}
