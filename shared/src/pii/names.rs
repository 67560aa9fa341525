//! Built-in word lists: common first names and surnames (Indian, Anglo-American, German), UPI handles, IFSC
//! bank codes, and words that look like names after "Hi" but are not. Names are only reported with context
//! (a field hint, or "name:", "Mr", "Dear", … right before them), so the lists favour coverage over purity.

/// Common first names, lowercase.
pub const FIRST_NAMES: &[&str] = &[
    // Indian
    "aarav", "aditi", "aditya", "ajay", "akash", "amit", "amita", "anand", "ananya", "anil", "anita", "anjali",
    "ankit", "anu", "anupama", "arjun", "arun", "aruna", "ashok", "ayesha", "deepa", "deepak", "devi", "dinesh",
    "divya", "gaurav", "geeta", "gopal", "harish", "isha", "ishaan", "jaya", "jyoti", "kavita", "kiran", "krishna",
    "kumar", "lakshmi", "madhu", "mahesh", "manish", "manoj", "meena", "meera", "mohan", "mukesh", "nandini",
    "neha", "nikhil", "nisha", "pooja", "prakash", "pranav", "priya", "priyanka", "rahul", "raj", "rajesh",
    "rakesh", "ramesh", "ravi", "rekha", "rohan", "rohit", "sachin", "sanjay", "sarita", "shreya", "shweta",
    "sneha", "sonia", "srinivas", "suman", "sunil", "sunita", "suresh", "swati", "tanvi", "usha", "varun",
    "vijay", "vikram", "vinod", "vivek", "yash", "zara", "arnav", "vihaan", "sai", "reyansh", "diya", "saanvi",
    "aanya", "kavya", "riya", "farhan", "imran", "salman", "fatima", "harpreet", "gurpreet", "manpreet",
    "venkat", "lalitha", "padma", "ramya", "karthik", "siddharth", "abhishek", "naveen", "pradeep", "sandeep",
    // Anglo-American
    "james", "john", "robert", "michael", "william", "david", "richard", "joseph", "thomas", "charles",
    "christopher", "daniel", "matthew", "anthony", "mark", "donald", "steven", "paul", "andrew", "joshua",
    "kenneth", "kevin", "brian", "george", "timothy", "ronald", "edward", "jason", "jeffrey", "ryan", "jacob",
    "gary", "nicholas", "eric", "jonathan", "stephen", "larry", "justin", "scott", "brandon", "benjamin",
    "samuel", "gregory", "frank", "alexander", "patrick", "jack", "dennis", "jerry", "tyler", "aaron", "henry",
    "peter", "adam", "nathan", "zachary", "walter", "kyle", "harold", "carl", "arthur", "ethan", "noah",
    "oliver", "liam", "lucas", "mason", "logan", "harry", "charlie", "alfie", "oscar", "leo", "mary",
    "patricia", "jennifer", "linda", "elizabeth", "barbara", "susan", "jessica", "sarah", "karen", "nancy",
    "lisa", "betty", "margaret", "sandra", "ashley", "kimberly", "emily", "donna", "michelle", "carol",
    "amanda", "dorothy", "melissa", "deborah", "stephanie", "rebecca", "sharon", "laura", "cynthia",
    "kathleen", "amy", "angela", "shirley", "anna", "brenda", "pamela", "emma", "nicole", "helen", "samantha",
    "katherine", "christine", "debra", "rachel", "carolyn", "janet", "catherine", "maria", "heather", "diane",
    "ruth", "julie", "olivia", "joyce", "virginia", "victoria", "kelly", "lauren", "christina", "joan",
    "evelyn", "judith", "megan", "andrea", "cheryl", "hannah", "jacqueline", "martha", "gloria", "teresa",
    "ann", "sara", "madison", "frances", "kathryn", "janice", "jean", "abigail", "alice", "judy", "sophia",
    "grace", "denise", "amber", "doris", "marilyn", "danielle", "beverly", "isabella", "theresa", "diana",
    "natalie", "brittany", "charlotte", "marie", "kayla", "alexis", "lori", "ava", "mia", "amelia", "isla",
    "poppy", "chloe", "lily", "ella", "jane", "kate", "lucy", "sophie", "alex", "sam", "chris", "max",
    // German
    "hans", "klaus", "jürgen", "juergen", "wolfgang", "stefan", "andreas", "thomas", "michael", "uwe", "dieter",
    "helmut", "gerhard", "günter", "guenter", "lukas", "jonas", "felix", "maximilian", "paul", "leon", "finn",
    "elias", "ben", "anna", "ursula", "monika", "petra", "sabine", "renate", "karin", "brigitte", "ingrid",
    "gabriele", "claudia", "susanne", "heike", "birgit", "andrea", "lena", "leonie", "lea", "marie", "hannah",
    "johanna", "katharina", "jana", "julia", "laura", "sophie", "mia", "emilia", "greta", "frieda",
];

/// Common surnames, lowercase.
pub const SURNAMES: &[&str] = &[
    // Indian
    "sharma", "verma", "gupta", "singh", "kumar", "patel", "shah", "mehta", "joshi", "desai", "reddy", "rao",
    "nair", "menon", "pillai", "iyer", "iyengar", "krishnan", "subramanian", "agarwal", "aggarwal", "jain",
    "bansal", "goyal", "mittal", "chopra", "kapoor", "khanna", "malhotra", "bhatia", "sethi", "arora", "saxena",
    "srivastava", "mishra", "tiwari", "pandey", "dubey", "chaturvedi", "trivedi", "yadav", "chauhan", "rathore",
    "thakur", "banerjee", "chatterjee", "mukherjee", "bose", "ghosh", "das", "dutta", "sen", "roy", "naidu",
    "choudhary", "chaudhary", "khan", "ahmed", "ali", "hussain", "qureshi", "siddiqui", "fernandes", "dsouza",
    "rodrigues", "kulkarni", "deshpande", "patil", "pawar", "jadhav", "gill", "sandhu", "dhillon", "grewal",
    "bhat", "hegde", "shetty", "kamath", "naik", "gowda", "murthy", "venkatesh", "rajan", "varma",
    // Anglo-American
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
    "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin",
    "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson",
    "walker", "young", "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green",
    "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts", "evans",
    "turner", "phillips", "parker", "edwards", "collins", "stewart", "morris", "murphy", "cook", "rogers",
    "morgan", "cooper", "peterson", "reed", "bailey", "bell", "kelly", "howard", "ward", "cox", "richardson",
    "wood", "watson", "brooks", "bennett", "gray", "james", "hughes", "price", "sanders", "myers", "long",
    "ross", "foster", "jenkins", "powell", "perry", "russell", "sullivan", "butler", "fisher", "henderson",
    "murray", "ford", "hamilton", "graham", "wallace", "west", "cole", "hayes", "gibson", "ellis", "stone",
    // German
    "müller", "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz",
    "hoffmann", "schäfer", "schaefer", "koch", "bauer", "richter", "klein", "wolf", "schröder", "schroeder",
    "neumann", "schwarz", "zimmermann", "braun", "krüger", "krueger", "hofmann", "hartmann", "lange", "schmitt",
    "werner", "schmitz", "krause", "meier", "lehmann", "schmid", "schulze", "maier", "köhler", "koehler",
    "herrmann", "könig", "koenig", "walter", "mayer", "huber", "kaiser", "fuchs", "peters", "lang", "scholz",
];

/// Capitalised words that follow "Hi", "Dear" or "Name:" in interfaces without being names.
pub const NOT_NAMES: &[&str] = &[
    "please", "thanks", "thank", "your", "you", "the", "welcome", "team", "there", "all", "sir", "madam",
    "customer", "user", "guest", "admin", "support", "friend", "everyone", "folks", "again", "back", "and",
    "or", "is", "here", "this", "that", "our", "we", "not", "required", "optional", "field", "enter", "full",
    "first", "last", "name", "email", "phone", "address", "to", "for", "from", "of", "on", "in", "at", "by",
];

/// UPI handles (the part after `@` of a virtual payment address).
pub const UPI_HANDLES: &[&str] = &[
    "okaxis", "okhdfcbank", "okicici", "oksbi", "ybl", "ibl", "axl", "paytm", "ptyes", "ptaxis", "pthdfc",
    "ptsbi", "upi", "apl", "yapl", "rapl", "abfspay", "axisbank", "axisb", "icici", "hdfcbank", "sbi", "kotak",
    "kbl", "pnb", "boi", "barodampay", "unionbank", "uboi", "indus", "federal", "fbl", "idfcbank", "idfcfirst",
    "aubank", "yesbank", "yesbankltd", "yesg", "rbl", "ratn", "ikwik", "freecharge", "airtel", "jio",
    "jupiteraxis", "waaxis", "wahdfcbank", "waicici", "wasbi", "dbs", "hsbc", "sc", "citi", "citigold", "cnrb",
    "centralbank", "cboi", "idbi", "iob", "indianbank", "allbank", "mahb", "equitas", "ujjivan", "dlb", "kvb",
    "tjsb", "cub", "csbpay", "nsdl", "timecosmos", "slice", "fam", "superyes", "naviaxis", "goaxb", "amazonpay",
    "apay", "postbank", "bhim", "mobikwik", "ikwik", "gpay",
];

/// IFSC bank codes (first four letters) of the banks that hold most accounts.
pub const IFSC_BANKS: &[&str] = &[
    "SBIN", "HDFC", "ICIC", "UTIB", "PUNB", "BARB", "CNRB", "UBIN", "IDIB", "BKID", "KKBK", "YESB", "INDB",
    "IOBA", "UCBA", "CBIN", "MAHB", "PSIB", "IDFB", "FDRL", "KARB", "SIBL", "RATN", "AUBL", "BDBL", "CITI",
    "HSBC", "SCBL", "DBSS", "DEUT", "ESFB", "JAKA", "KVBL", "TMBL", "CIUB", "DLXB", "NKGS", "IBKL", "ANDB",
    "CORP", "ORBC", "SYNB", "ALLA", "VIJB", "UTBI", "DCBL", "CSBK", "KARB", "LAVB", "NTBL", "UJVN", "EQUI",
    "FINO", "AIRP", "PYTM", "JIOP", "SVCB", "COSB", "ABHY", "SRCB", "TJSB", "APGB", "KSCB", "BACB",
];
