//! The attribute actions of the PS3.15 Annex E Basic Application Level Confidentiality
//! Profile (Table E.1-1, "Basic Profile" column) that medxfer applies. Where the table
//! allows a choice (e.g. X/Z/D), the most removing action that keeps the object valid is
//! used: type 2 attributes are emptied (Z), others removed (X).
//!
//! Everything the table does not list is decided by allow-list ([`RETAINED`]): attributes
//! the profile retains that carry no free text about a person, plus what is needed to
//! display the pixels, are kept; UIDs are replaced; every other attribute is removed,
//! including unknown public ones, private ones (odd groups), curves and overlays, since an
//! attribute medxfer does not know may hold a name.

use dicom_core::{Tag, VR};

/// What happens to an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// X: remove.
    Remove,
    /// Z: replace with a zero-length value.
    Empty,
    /// U: replace with a consistent new UID.
    ReplaceUid,
    /// K: keep (items of a kept sequence are filtered in turn).
    Keep,
}

/// Sorted by tag for binary search.
pub const BASIC_PROFILE: &[(Tag, Action)] = &[
    (Tag(0x0008, 0x0014), Action::ReplaceUid), // Instance Creator UID
    (Tag(0x0008, 0x0015), Action::Remove),     // Instance Coercion DateTime
    (Tag(0x0008, 0x0018), Action::ReplaceUid), // SOP Instance UID
    (Tag(0x0008, 0x0020), Action::Empty),      // Study Date
    (Tag(0x0008, 0x0021), Action::Remove),     // Series Date
    (Tag(0x0008, 0x0022), Action::Remove),     // Acquisition Date
    (Tag(0x0008, 0x0023), Action::Empty),      // Content Date
    (Tag(0x0008, 0x0024), Action::Remove),     // Overlay Date
    (Tag(0x0008, 0x0025), Action::Remove),     // Curve Date
    (Tag(0x0008, 0x002A), Action::Remove),     // Acquisition DateTime
    (Tag(0x0008, 0x0030), Action::Empty),      // Study Time
    (Tag(0x0008, 0x0031), Action::Remove),     // Series Time
    (Tag(0x0008, 0x0032), Action::Remove),     // Acquisition Time
    (Tag(0x0008, 0x0033), Action::Empty),      // Content Time
    (Tag(0x0008, 0x0034), Action::Remove),     // Overlay Time
    (Tag(0x0008, 0x0035), Action::Remove),     // Curve Time
    (Tag(0x0008, 0x0050), Action::Empty),      // Accession Number
    (Tag(0x0008, 0x0058), Action::ReplaceUid), // Failed SOP Instance UID List
    (Tag(0x0008, 0x0080), Action::Remove),     // Institution Name
    (Tag(0x0008, 0x0081), Action::Remove),     // Institution Address
    (Tag(0x0008, 0x0082), Action::Remove),     // Institution Code Sequence
    (Tag(0x0008, 0x0090), Action::Empty),      // Referring Physician's Name
    (Tag(0x0008, 0x0092), Action::Remove),     // Referring Physician's Address
    (Tag(0x0008, 0x0094), Action::Remove),     // Referring Physician's Telephone Numbers
    (Tag(0x0008, 0x0096), Action::Remove),     // Referring Physician Identification Sequence
    (Tag(0x0008, 0x009C), Action::Empty),      // Consulting Physician's Name
    (Tag(0x0008, 0x009D), Action::Remove),     // Consulting Physician Identification Sequence
    (Tag(0x0008, 0x0201), Action::Remove),     // Timezone Offset From UTC
    (Tag(0x0008, 0x1000), Action::Remove),     // Network ID
    (Tag(0x0008, 0x1010), Action::Remove),     // Station Name
    (Tag(0x0008, 0x1030), Action::Remove),     // Study Description
    (Tag(0x0008, 0x103E), Action::Remove),     // Series Description
    (Tag(0x0008, 0x1040), Action::Remove),     // Institutional Department Name
    (Tag(0x0008, 0x1041), Action::Remove),     // Institutional Department Type Code Sequence
    (Tag(0x0008, 0x1048), Action::Remove),     // Physician(s) of Record
    (Tag(0x0008, 0x1049), Action::Remove),     // Physician(s) of Record Identification Sequence
    (Tag(0x0008, 0x1050), Action::Remove),     // Performing Physicians' Name
    (Tag(0x0008, 0x1052), Action::Remove),     // Performing Physician Identification Sequence
    (Tag(0x0008, 0x1060), Action::Remove),     // Name of Physician(s) Reading Study
    (Tag(0x0008, 0x1062), Action::Remove),     // Physician(s) Reading Study Identification Sequence
    (Tag(0x0008, 0x1070), Action::Remove),     // Operators' Name
    (Tag(0x0008, 0x1072), Action::Remove),     // Operator Identification Sequence
    (Tag(0x0008, 0x1080), Action::Remove),     // Admitting Diagnoses Description
    (Tag(0x0008, 0x1084), Action::Remove),     // Admitting Diagnoses Code Sequence
    (Tag(0x0008, 0x1110), Action::Remove),     // Referenced Study Sequence
    (Tag(0x0008, 0x1111), Action::Remove),     // Referenced Performed Procedure Step Sequence
    (Tag(0x0008, 0x1120), Action::Remove),     // Referenced Patient Sequence
    (Tag(0x0008, 0x1155), Action::ReplaceUid), // Referenced SOP Instance UID
    (Tag(0x0008, 0x1195), Action::ReplaceUid), // Transaction UID
    (Tag(0x0008, 0x2111), Action::Remove),     // Derivation Description
    (Tag(0x0008, 0x3010), Action::ReplaceUid), // Irradiation Event UID
    (Tag(0x0008, 0x4000), Action::Remove),     // Identifying Comments
    (Tag(0x0008, 0x9123), Action::ReplaceUid), // Creator-Version UID
    (Tag(0x0010, 0x0010), Action::Empty),      // Patient's Name
    (Tag(0x0010, 0x0020), Action::Empty),      // Patient ID
    (Tag(0x0010, 0x0021), Action::Remove),     // Issuer of Patient ID
    (Tag(0x0010, 0x0024), Action::Remove),     // Issuer of Patient ID Qualifiers Sequence
    (Tag(0x0010, 0x0030), Action::Empty),      // Patient's Birth Date
    (Tag(0x0010, 0x0032), Action::Remove),     // Patient's Birth Time
    (Tag(0x0010, 0x0040), Action::Empty),      // Patient's Sex
    (Tag(0x0010, 0x0050), Action::Remove),     // Patient's Insurance Plan Code Sequence
    (Tag(0x0010, 0x0101), Action::Remove),     // Patient's Primary Language Code Sequence
    (Tag(0x0010, 0x0102), Action::Remove),     // Patient's Primary Language Modifier Code Sequence
    (Tag(0x0010, 0x1000), Action::Remove),     // Other Patient IDs
    (Tag(0x0010, 0x1001), Action::Remove),     // Other Patient Names
    (Tag(0x0010, 0x1002), Action::Remove),     // Other Patient IDs Sequence
    (Tag(0x0010, 0x1005), Action::Remove),     // Patient's Birth Name
    (Tag(0x0010, 0x1010), Action::Remove),     // Patient's Age
    (Tag(0x0010, 0x1020), Action::Remove),     // Patient's Size
    (Tag(0x0010, 0x1030), Action::Remove),     // Patient's Weight
    (Tag(0x0010, 0x1040), Action::Remove),     // Patient's Address
    (Tag(0x0010, 0x1050), Action::Remove),     // Insurance Plan Identification
    (Tag(0x0010, 0x1060), Action::Remove),     // Patient's Mother's Birth Name
    (Tag(0x0010, 0x1080), Action::Remove),     // Military Rank
    (Tag(0x0010, 0x1081), Action::Remove),     // Branch of Service
    (Tag(0x0010, 0x1090), Action::Remove),     // Medical Record Locator
    (Tag(0x0010, 0x1100), Action::Remove),     // Referenced Patient Photo Sequence
    (Tag(0x0010, 0x2000), Action::Remove),     // Medical Alerts
    (Tag(0x0010, 0x2110), Action::Remove),     // Allergies
    (Tag(0x0010, 0x2150), Action::Remove),     // Country of Residence
    (Tag(0x0010, 0x2152), Action::Remove),     // Region of Residence
    (Tag(0x0010, 0x2154), Action::Remove),     // Patient's Telephone Numbers
    (Tag(0x0010, 0x2155), Action::Remove),     // Patient's Telecom Information
    (Tag(0x0010, 0x2160), Action::Remove),     // Ethnic Group
    (Tag(0x0010, 0x2180), Action::Remove),     // Occupation
    (Tag(0x0010, 0x21A0), Action::Remove),     // Smoking Status
    (Tag(0x0010, 0x21B0), Action::Remove),     // Additional Patient History
    (Tag(0x0010, 0x21C0), Action::Remove),     // Pregnancy Status
    (Tag(0x0010, 0x21D0), Action::Remove),     // Last Menstrual Date
    (Tag(0x0010, 0x21F0), Action::Remove),     // Patient's Religious Preference
    (Tag(0x0010, 0x2203), Action::Remove),     // Patient's Sex Neutered
    (Tag(0x0010, 0x2297), Action::Remove),     // Responsible Person
    (Tag(0x0010, 0x2299), Action::Remove),     // Responsible Organization
    (Tag(0x0010, 0x4000), Action::Remove),     // Patient Comments
    (Tag(0x0018, 0x0010), Action::Empty),      // Contrast/Bolus Agent
    (Tag(0x0018, 0x1000), Action::Remove),     // Device Serial Number
    (Tag(0x0018, 0x1002), Action::ReplaceUid), // Device UID
    (Tag(0x0018, 0x1004), Action::Remove),     // Plate ID
    (Tag(0x0018, 0x1005), Action::Remove),     // Generator ID
    (Tag(0x0018, 0x1007), Action::Remove),     // Cassette ID
    (Tag(0x0018, 0x1008), Action::Remove),     // Gantry ID
    (Tag(0x0018, 0x100B), Action::ReplaceUid), // Manufacturer's Device Class UID
    (Tag(0x0018, 0x1012), Action::Remove),     // Date of Secondary Capture
    (Tag(0x0018, 0x1014), Action::Remove),     // Time of Secondary Capture
    (Tag(0x0018, 0x1030), Action::Remove),     // Protocol Name
    (Tag(0x0018, 0x1200), Action::Remove),     // Date of Last Calibration
    (Tag(0x0018, 0x1201), Action::Remove),     // Time of Last Calibration
    (Tag(0x0018, 0x1202), Action::Remove),     // DateTime of Last Calibration
    (Tag(0x0018, 0x1400), Action::Remove),     // Acquisition Device Processing Description
    (Tag(0x0018, 0x2042), Action::ReplaceUid), // Target UID
    (Tag(0x0018, 0x4000), Action::Remove),     // Acquisition Comments
    (Tag(0x0018, 0x700A), Action::Remove),     // Detector ID
    (Tag(0x0018, 0x9424), Action::Remove),     // Acquisition Protocol Description
    (Tag(0x0018, 0xA003), Action::Remove),     // Contribution Description
    (Tag(0x0020, 0x000D), Action::ReplaceUid), // Study Instance UID
    (Tag(0x0020, 0x000E), Action::ReplaceUid), // Series Instance UID
    (Tag(0x0020, 0x0010), Action::Empty),      // Study ID
    (Tag(0x0020, 0x0052), Action::ReplaceUid), // Frame of Reference UID
    (Tag(0x0020, 0x0200), Action::ReplaceUid), // Synchronization Frame of Reference UID
    (Tag(0x0020, 0x3401), Action::Remove),     // Modifying Device ID
    (Tag(0x0020, 0x3404), Action::Remove),     // Modifying Device Manufacturer
    (Tag(0x0020, 0x3406), Action::Remove),     // Modified Image Description
    (Tag(0x0020, 0x4000), Action::Remove),     // Image Comments
    (Tag(0x0020, 0x9158), Action::Remove),     // Frame Comments
    (Tag(0x0020, 0x9161), Action::ReplaceUid), // Concatenation UID
    (Tag(0x0020, 0x9164), Action::ReplaceUid), // Dimension Organization UID
    (Tag(0x0028, 0x1199), Action::ReplaceUid), // Palette Color Lookup Table UID
    (Tag(0x0028, 0x1214), Action::ReplaceUid), // Large Palette Color Lookup Table UID
    (Tag(0x0028, 0x4000), Action::Remove),     // Image Presentation Comments
    (Tag(0x0032, 0x0012), Action::Remove),     // Study ID Issuer
    (Tag(0x0032, 0x1020), Action::Remove),     // Scheduled Study Location
    (Tag(0x0032, 0x1021), Action::Remove),     // Scheduled Study Location AE Title
    (Tag(0x0032, 0x1030), Action::Remove),     // Reason for Study
    (Tag(0x0032, 0x1032), Action::Remove),     // Requesting Physician
    (Tag(0x0032, 0x1033), Action::Remove),     // Requesting Service
    (Tag(0x0032, 0x1060), Action::Remove),     // Requested Procedure Description
    (Tag(0x0032, 0x1070), Action::Remove),     // Requested Contrast Agent
    (Tag(0x0032, 0x4000), Action::Remove),     // Study Comments
    (Tag(0x0038, 0x0010), Action::Remove),     // Admission ID
    (Tag(0x0038, 0x0011), Action::Remove),     // Issuer of Admission ID
    (Tag(0x0038, 0x0020), Action::Remove),     // Admitting Date
    (Tag(0x0038, 0x0021), Action::Remove),     // Admitting Time
    (Tag(0x0038, 0x0040), Action::Remove),     // Discharge Diagnosis Description
    (Tag(0x0038, 0x0300), Action::Remove),     // Current Patient Location
    (Tag(0x0038, 0x0400), Action::Remove),     // Patient's Institution Residence
    (Tag(0x0038, 0x0500), Action::Remove),     // Patient State
    (Tag(0x0038, 0x1234), Action::Remove),     // Referenced Patient Alias Sequence
    (Tag(0x0038, 0x4000), Action::Remove),     // Visit Comments
    (Tag(0x0040, 0x0001), Action::Remove),     // Scheduled Station AE Title
    (Tag(0x0040, 0x0002), Action::Remove),     // Scheduled Procedure Step Start Date
    (Tag(0x0040, 0x0003), Action::Remove),     // Scheduled Procedure Step Start Time
    (Tag(0x0040, 0x0004), Action::Remove),     // Scheduled Procedure Step End Date
    (Tag(0x0040, 0x0005), Action::Remove),     // Scheduled Procedure Step End Time
    (Tag(0x0040, 0x0006), Action::Remove),     // Scheduled Performing Physician's Name
    (Tag(0x0040, 0x0007), Action::Remove),     // Scheduled Procedure Step Description
    (Tag(0x0040, 0x0009), Action::Remove),     // Scheduled Procedure Step ID
    (Tag(0x0040, 0x000B), Action::Remove), // Scheduled Performing Physician Identification Sequence
    (Tag(0x0040, 0x0010), Action::Remove), // Scheduled Station Name
    (Tag(0x0040, 0x0011), Action::Remove), // Scheduled Procedure Step Location
    (Tag(0x0040, 0x0012), Action::Remove), // Pre-Medication
    (Tag(0x0040, 0x0241), Action::Remove), // Performed Station AE Title
    (Tag(0x0040, 0x0242), Action::Remove), // Performed Station Name
    (Tag(0x0040, 0x0243), Action::Remove), // Performed Location
    (Tag(0x0040, 0x0244), Action::Remove), // Performed Procedure Step Start Date
    (Tag(0x0040, 0x0245), Action::Remove), // Performed Procedure Step Start Time
    (Tag(0x0040, 0x0250), Action::Remove), // Performed Procedure Step End Date
    (Tag(0x0040, 0x0251), Action::Remove), // Performed Procedure Step End Time
    (Tag(0x0040, 0x0253), Action::Remove), // Performed Procedure Step ID
    (Tag(0x0040, 0x0254), Action::Remove), // Performed Procedure Step Description
    (Tag(0x0040, 0x0275), Action::Remove), // Request Attributes Sequence
    (Tag(0x0040, 0x0280), Action::Remove), // Comments on the Performed Procedure Step
    (Tag(0x0040, 0x0310), Action::Remove), // Comments on Radiation Dose
    (Tag(0x0040, 0x050A), Action::Remove), // Specimen Accession Number
    (Tag(0x0040, 0x0555), Action::Remove), // Acquisition Context Sequence
    (Tag(0x0040, 0x1001), Action::Remove), // Requested Procedure ID
    (Tag(0x0040, 0x1004), Action::Remove), // Patient Transport Arrangements
    (Tag(0x0040, 0x1005), Action::Remove), // Requested Procedure Location
    (Tag(0x0040, 0x1010), Action::Remove), // Names of Intended Recipients of Results
    (Tag(0x0040, 0x1011), Action::Remove), // Intended Recipients of Results Identification Sequence
    (Tag(0x0040, 0x1101), Action::Remove), // Person Identification Code Sequence
    (Tag(0x0040, 0x1102), Action::Remove), // Person's Address
    (Tag(0x0040, 0x1103), Action::Remove), // Person's Telephone Numbers
    (Tag(0x0040, 0x1104), Action::Remove), // Person's Telecom Information
    (Tag(0x0040, 0x1400), Action::Remove), // Requested Procedure Comments
    (Tag(0x0040, 0x2001), Action::Remove), // Reason for the Imaging Service Request
    (Tag(0x0040, 0x2008), Action::Remove), // Order Entered By
    (Tag(0x0040, 0x2009), Action::Remove), // Order Enterer's Location
    (Tag(0x0040, 0x2010), Action::Remove), // Order Callback Phone Number
    (Tag(0x0040, 0x2011), Action::Remove), // Order Callback Telecom Information
    (Tag(0x0040, 0x2016), Action::Empty),  // Placer Order Number / Imaging Service Request
    (Tag(0x0040, 0x2017), Action::Empty),  // Filler Order Number / Imaging Service Request
    (Tag(0x0040, 0x2400), Action::Remove), // Imaging Service Request Comments
    (Tag(0x0040, 0x3001), Action::Remove), // Confidentiality Constraint on Patient Data Description
    (Tag(0x0040, 0x4023), Action::ReplaceUid), // Referenced General Purpose Scheduled Procedure Step Transaction UID
    (Tag(0x0040, 0xA027), Action::Remove),     // Verifying Organization
    (Tag(0x0040, 0xA073), Action::Remove),     // Verifying Observer Sequence
    (Tag(0x0040, 0xA075), Action::Remove),     // Verifying Observer Name
    (Tag(0x0040, 0xA078), Action::Remove),     // Author Observer Sequence
    (Tag(0x0040, 0xA07A), Action::Remove),     // Participant Sequence
    (Tag(0x0040, 0xA07C), Action::Remove),     // Custodial Organization Sequence
    (Tag(0x0040, 0xA088), Action::Remove),     // Verifying Observer Identification Code Sequence
    (Tag(0x0040, 0xA123), Action::Remove),     // Person Name
    (Tag(0x0040, 0xA124), Action::ReplaceUid), // UID
    (Tag(0x0040, 0xA171), Action::ReplaceUid), // Observation UID
    (Tag(0x0040, 0xA172), Action::ReplaceUid), // Referenced Observation UID (Trial)
    (Tag(0x0040, 0xA402), Action::ReplaceUid), // Observation Subject UID (Trial)
    (Tag(0x0040, 0xA730), Action::Remove),     // Content Sequence
    (Tag(0x0040, 0xDB0C), Action::ReplaceUid), // Template Extension Organization UID
    (Tag(0x0040, 0xDB0D), Action::ReplaceUid), // Template Extension Creator UID
    (Tag(0x0062, 0x0021), Action::ReplaceUid), // Tracking UID
    (Tag(0x0070, 0x0084), Action::Empty),      // Content Creator's Name
    (Tag(0x0070, 0x0086), Action::Remove),     // Content Creator's Identification Code Sequence
    (Tag(0x0070, 0x031A), Action::ReplaceUid), // Fiducial UID
    (Tag(0x0070, 0x1101), Action::ReplaceUid), // Presentation Display Collection UID
    (Tag(0x0070, 0x1102), Action::ReplaceUid), // Presentation Sequence Collection UID
    (Tag(0x0088, 0x0140), Action::ReplaceUid), // Storage Media File-set UID
    (Tag(0x0400, 0x0100), Action::Remove),     // Digital Signature UID
    (Tag(0x0400, 0x0402), Action::Remove),     // Referenced Digital Signature Sequence
    (Tag(0x0400, 0x0403), Action::Remove),     // Referenced SOP Instance MAC Sequence
    (Tag(0x0400, 0x0404), Action::Remove),     // MAC
    (Tag(0x0400, 0x0550), Action::Remove),     // Modified Attributes Sequence
    (Tag(0x0400, 0x0561), Action::Remove),     // Original Attributes Sequence
    (Tag(0x3006, 0x0024), Action::ReplaceUid), // Referenced Frame of Reference UID
    (Tag(0x3006, 0x00C2), Action::ReplaceUid), // Related Frame of Reference UID
    (Tag(0x300A, 0x0013), Action::ReplaceUid), // Dose Reference UID
    (Tag(0x4000, 0x0010), Action::Remove),     // Arbitrary
    (Tag(0x4000, 0x4000), Action::Remove),     // Text Comments
    (Tag(0x4008, 0x0042), Action::Remove),     // Results ID Issuer
    (Tag(0x4008, 0x0102), Action::Remove),     // Interpretation Recorder
    (Tag(0x4008, 0x010A), Action::Remove),     // Interpretation Transcriber
    (Tag(0x4008, 0x010B), Action::Remove),     // Interpretation Text
    (Tag(0x4008, 0x010C), Action::Remove),     // Interpretation Author
    (Tag(0x4008, 0x0111), Action::Remove),     // Interpretation Approver Sequence
    (Tag(0x4008, 0x0114), Action::Remove),     // Physician Approving Interpretation
    (Tag(0x4008, 0x0115), Action::Remove),     // Interpretation Diagnosis Description
    (Tag(0x4008, 0x0118), Action::Remove),     // Results Distribution List Sequence
    (Tag(0x4008, 0x0119), Action::Remove),     // Distribution Name
    (Tag(0x4008, 0x011A), Action::Remove),     // Distribution Address
    (Tag(0x4008, 0x0202), Action::Remove),     // Interpretation ID Issuer
    (Tag(0x4008, 0x0300), Action::Remove),     // Impressions
    (Tag(0x4008, 0x4000), Action::Remove),     // Results Comments
    (Tag(0xFFFA, 0xFFFA), Action::Remove),     // Digital Signatures Sequence
    (Tag(0xFFFC, 0xFFFC), Action::Remove),     // Data Set Trailing Padding
];

/// Attributes kept as they are (the table's actions come first). Sorted by tag. Technical
/// attributes only: free-text ones (descriptions, comments, LUT explanations, kernels)
/// are left out even where the profile would retain them.
pub const RETAINED: &[Tag] = &[
    Tag(0x0008, 0x0005), // Specific Character Set
    Tag(0x0008, 0x0008), // Image Type
    Tag(0x0008, 0x0016), // SOP Class UID
    Tag(0x0008, 0x0060), // Modality
    Tag(0x0008, 0x0064), // Conversion Type
    Tag(0x0008, 0x0068), // Presentation Intent Type
    Tag(0x0008, 0x0070), // Manufacturer (device, not person: kept for multi-centre studies)
    Tag(0x0008, 0x1090), // Manufacturer's Model Name
    Tag(0x0008, 0x1140), // Referenced Image Sequence
    Tag(0x0008, 0x1150), // Referenced SOP Class UID
    Tag(0x0008, 0x1160), // Referenced Frame Number
    Tag(0x0008, 0x2112), // Source Image Sequence
    Tag(0x0008, 0x9205), // Pixel Presentation
    Tag(0x0008, 0x9206), // Volumetric Properties
    Tag(0x0018, 0x0015), // Body Part Examined
    Tag(0x0018, 0x0050), // Slice Thickness
    Tag(0x0018, 0x0060), // KVP
    Tag(0x0018, 0x0080), // Repetition Time
    Tag(0x0018, 0x0081), // Echo Time
    Tag(0x0018, 0x0082), // Inversion Time
    Tag(0x0018, 0x0087), // Magnetic Field Strength
    Tag(0x0018, 0x0088), // Spacing Between Slices
    Tag(0x0018, 0x1150), // Exposure Time
    Tag(0x0018, 0x1151), // X-Ray Tube Current
    Tag(0x0018, 0x1152), // Exposure
    Tag(0x0018, 0x1164), // Imager Pixel Spacing
    Tag(0x0018, 0x5100), // Patient Position
    Tag(0x0018, 0x6011), // Sequence of Ultrasound Regions
    Tag(0x0018, 0x6012), // Region Spatial Format
    Tag(0x0018, 0x6014), // Region Data Type
    Tag(0x0018, 0x6016), // Region Flags
    Tag(0x0018, 0x6018), // Region Location Min X0
    Tag(0x0018, 0x601A), // Region Location Min Y0
    Tag(0x0018, 0x601C), // Region Location Max X1
    Tag(0x0018, 0x601E), // Region Location Max Y1
    Tag(0x0018, 0x6020), // Reference Pixel X0
    Tag(0x0018, 0x6022), // Reference Pixel Y0
    Tag(0x0018, 0x6024), // Physical Units X Direction
    Tag(0x0018, 0x6026), // Physical Units Y Direction
    Tag(0x0018, 0x6028), // Reference Pixel Physical Value X
    Tag(0x0018, 0x602A), // Reference Pixel Physical Value Y
    Tag(0x0018, 0x602C), // Physical Delta X
    Tag(0x0018, 0x602E), // Physical Delta Y
    Tag(0x0020, 0x0011), // Series Number
    Tag(0x0020, 0x0012), // Acquisition Number
    Tag(0x0020, 0x0013), // Instance Number
    Tag(0x0020, 0x0020), // Patient Orientation
    Tag(0x0020, 0x0032), // Image Position (Patient)
    Tag(0x0020, 0x0037), // Image Orientation (Patient)
    Tag(0x0020, 0x0060), // Laterality
    Tag(0x0020, 0x0062), // Image Laterality
    Tag(0x0020, 0x1041), // Slice Location
    Tag(0x0020, 0x9057), // In-Stack Position Number
    Tag(0x0020, 0x9111), // Frame Content Sequence
    Tag(0x0020, 0x9113), // Plane Position Sequence
    Tag(0x0020, 0x9116), // Plane Orientation Sequence
    Tag(0x0020, 0x9128), // Temporal Position Index
    Tag(0x0020, 0x9157), // Dimension Index Values
    Tag(0x0028, 0x0002), // Samples per Pixel
    Tag(0x0028, 0x0004), // Photometric Interpretation
    Tag(0x0028, 0x0006), // Planar Configuration
    Tag(0x0028, 0x0008), // Number of Frames
    Tag(0x0028, 0x0009), // Frame Increment Pointer
    Tag(0x0028, 0x0010), // Rows
    Tag(0x0028, 0x0011), // Columns
    Tag(0x0028, 0x0030), // Pixel Spacing
    Tag(0x0028, 0x0034), // Pixel Aspect Ratio
    Tag(0x0028, 0x0100), // Bits Allocated
    Tag(0x0028, 0x0101), // Bits Stored
    Tag(0x0028, 0x0102), // High Bit
    Tag(0x0028, 0x0103), // Pixel Representation
    Tag(0x0028, 0x0106), // Smallest Image Pixel Value
    Tag(0x0028, 0x0107), // Largest Image Pixel Value
    Tag(0x0028, 0x0120), // Pixel Padding Value
    Tag(0x0028, 0x0121), // Pixel Padding Range Limit
    Tag(0x0028, 0x0301), // Burned In Annotation
    Tag(0x0028, 0x0302), // Recognizable Visual Features
    Tag(0x0028, 0x0A02), // Pixel Spacing Calibration Type
    Tag(0x0028, 0x1040), // Pixel Intensity Relationship
    Tag(0x0028, 0x1041), // Pixel Intensity Relationship Sign
    Tag(0x0028, 0x1050), // Window Center
    Tag(0x0028, 0x1051), // Window Width
    Tag(0x0028, 0x1052), // Rescale Intercept
    Tag(0x0028, 0x1053), // Rescale Slope
    Tag(0x0028, 0x1054), // Rescale Type
    Tag(0x0028, 0x1056), // VOI LUT Function
    Tag(0x0028, 0x1101), // Red Palette Color Lookup Table Descriptor
    Tag(0x0028, 0x1102), // Green Palette Color Lookup Table Descriptor
    Tag(0x0028, 0x1103), // Blue Palette Color Lookup Table Descriptor
    Tag(0x0028, 0x1201), // Red Palette Color Lookup Table Data
    Tag(0x0028, 0x1202), // Green Palette Color Lookup Table Data
    Tag(0x0028, 0x1203), // Blue Palette Color Lookup Table Data
    Tag(0x0028, 0x1221), // Segmented Red Palette Color Lookup Table Data
    Tag(0x0028, 0x1222), // Segmented Green Palette Color Lookup Table Data
    Tag(0x0028, 0x1223), // Segmented Blue Palette Color Lookup Table Data
    Tag(0x0028, 0x2110), // Lossy Image Compression
    Tag(0x0028, 0x2112), // Lossy Image Compression Ratio
    Tag(0x0028, 0x2114), // Lossy Image Compression Method
    Tag(0x0028, 0x3000), // Modality LUT Sequence
    Tag(0x0028, 0x3002), // LUT Descriptor
    Tag(0x0028, 0x3004), // Modality LUT Type
    Tag(0x0028, 0x3006), // LUT Data
    Tag(0x0028, 0x3010), // VOI LUT Sequence
    Tag(0x0028, 0x9110), // Pixel Measures Sequence
    Tag(0x0028, 0x9132), // Frame VOI LUT Sequence
    Tag(0x0028, 0x9145), // Pixel Value Transformation Sequence
    Tag(0x5200, 0x9229), // Shared Functional Groups Sequence
    Tag(0x5200, 0x9230), // Per-frame Functional Groups Sequence
    Tag(0x7FE0, 0x0008), // Float Pixel Data
    Tag(0x7FE0, 0x0009), // Double Float Pixel Data
    Tag(0x7FE0, 0x0010), // Pixel Data
];

fn by_tag(tag: Tag) -> impl Fn(&Tag) -> std::cmp::Ordering {
    move |t| (t.group(), t.element()).cmp(&(tag.group(), tag.element()))
}

/// The action for a standard attribute, if the profile table lists it.
pub fn action_for(tag: Tag) -> Option<Action> {
    BASIC_PROFILE
        .binary_search_by(|(t, _)| by_tag(tag)(t))
        .ok()
        .map(|i| BASIC_PROFILE[i].1)
}

/// The action for any attribute: private ones are removed, then the table decides, then
/// the allow-list; other UIDs are replaced (they only reference instances); the rest goes.
pub fn action(tag: Tag, vr: VR) -> Action {
    if tag.group() % 2 == 1 {
        return Action::Remove;
    }
    if let Some(action) = action_for(tag) {
        return action;
    }
    if RETAINED.binary_search_by(by_tag(tag)).is_ok() {
        Action::Keep
    } else if vr == VR::UI {
        Action::ReplaceUid
    } else {
        Action::Remove
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lookups_work() {
        assert!(
            BASIC_PROFILE
                .windows(2)
                .all(|w| (w[0].0.group(), w[0].0.element()) < (w[1].0.group(), w[1].0.element()))
        );
        assert_eq!(action_for(Tag(0x0010, 0x0010)), Some(Action::Empty));
        assert_eq!(action_for(Tag(0x0020, 0x000D)), Some(Action::ReplaceUid));
        assert_eq!(action_for(Tag(0x0010, 0x1010)), Some(Action::Remove));
        assert_eq!(action_for(Tag(0x0028, 0x0010)), None);
        assert!(RETAINED.windows(2).all(|w| by_tag(w[1])(&w[0]).is_lt()));
        assert_eq!(action(Tag(0x0028, 0x0010), VR::US), Action::Keep);
        assert_eq!(action(Tag(0x0010, 0x0010), VR::PN), Action::Empty);
        assert_eq!(action(Tag(0x0020, 0x4010), VR::SH), Action::Remove);
        assert_eq!(action(Tag(0x0009, 0x0010), VR::LO), Action::Remove);
        assert_eq!(action(Tag(0x0008, 0x3010), VR::UI), Action::ReplaceUid);
        assert!(RETAINED.iter().all(|&t| action_for(t).is_none()));
    }
}
